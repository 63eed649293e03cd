"""One benchmark run's surroundings: a fresh database, data dir, account and event queue.

Every run gets its own account (so its ledger starts empty while Dovecot's mailbox stays the
same), its own data dir and database, and an emptied Redis.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from shared import redis_keys
from shared.accounts.service import AccountService
from shared.db.database import Database
from shared.eventbus import EventConsumer
from shared.secrets import SecretBox, new_key
from tests.support.dovecot import DovecotServer
from tests.support.processes import environment

EVENTS_DB = 1  # events on their own Redis database, beside the broker's and the locks'
_KOMBU_PRIORITY_SEPARATOR = "\x06\x16"


@dataclass
class Mailpoll:
    """What every run shares: the servers and the benchmark's options."""

    root: Path
    dovecot: DovecotServer
    redis: redis.Redis
    redis_url: str
    tls: bool
    chunk: int
    postgres: bool = False

    @property
    def events_url(self) -> str:
        return self.redis_url.rsplit("/", 1)[0] + f"/{EVENTS_DB}"

    def new_run(self, number: int) -> Run:
        self.redis.flushall()
        work = self.root / f"run-{number}"
        work.mkdir()
        admin_url = database_url = None
        if self.postgres:
            from tests.support.postgres import fresh_database, postgres_admin_url

            admin_url = postgres_admin_url()
            database_url = fresh_database(admin_url)
        return Run(self, number, work, database_url or f"sqlite:///{work / 'mailpoll.db'}",
                   admin_url)  # fmt: skip


@dataclass
class Run:
    """One measured poll; `cleanup()` drops its database."""

    bench: Mailpoll
    number: int
    work: Path
    database_url: str
    admin_url: str | None = None
    key: str = field(default_factory=new_key)
    account_ids: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.env = environment(
            database_url=self.database_url,
            redis_url=self.bench.redis_url,
            events_url=self.bench.events_url,
            secret_key=self.key,
            data_dir=str(self.data_dir),
            log_level="INFO",
            # The worker's parse pool, as the operator would set it (default: inline).
            parse_processes=os.environ.get("MAILPOLL_PARSE_PROCESSES", "0"),
        )
        self.database = Database(self.database_url)
        self.database.upgrade()
        self.events_redis = redis.Redis.from_url(self.bench.events_url)
        self._queue: str | None = None

    @property
    def data_dir(self) -> Path:
        return self.work / "data"

    @property
    def upload_dir(self) -> Path:
        return self.data_dir / "uploads"

    def log(self, name: str) -> Path:
        return self.work / f"{name}.log"

    @contextlib.contextmanager
    def consumer(self) -> Iterator[EventConsumer]:
        """A queue bound to the events exchange before anything is published."""
        consumer = EventConsumer(self.bench.events_url).open()
        self._queue = str(consumer.queue.name)
        try:
            yield consumer
        finally:
            consumer.close()

    def queued_events(self) -> int:
        """Events waiting in the bound queue (kombu keeps one Redis list per priority)."""
        assert self._queue is not None
        pipe = self.events_redis.pipeline(transaction=False)
        pipe.llen(self._queue)
        for priority in (3, 6, 9):
            pipe.llen(f"{self._queue}{_KOMBU_PRIORITY_SEPARATOR}{priority}")
        return sum(int(n) for n in pipe.execute())

    def poll_queued(self) -> bool:
        """The scheduler has put the account's poll job into Dramatiq's queue."""
        return bool(self.bench.redis.llen(f"dramatiq:{redis_keys.POLL_QUEUE}"))

    def check_events(self, consumer: EventConsumer, expected: int) -> None:
        """Every message announced exactly once, each with its own id."""
        ids: list[str] = []

        def take(event: dict[str, Any]) -> None:
            ids.append(str(event["id"]))

        while consumer.drain(take, timeout=1.0):
            pass
        if len(ids) != expected or len(set(ids)) != expected:
            raise RuntimeError(f"expected {expected} distinct events, got {len(set(ids))} "
                               f"distinct of {len(ids)}")  # fmt: skip

    def stored_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.upload_dir.rglob("*.eml"))

    def cleanup(self) -> None:
        """Close and drop the run's database; its files stay until the benchmark ends (with
        the temporary root). Deleting 10,000 files just before the next run makes its file
        creations slow on ext4 without a journal, which skips recently deleted inodes when it
        allocates one (`recently_deleted` in the kernel: up to ~0.5 ms of CPU per new file)."""
        self.database.dispose()
        self.events_redis.close()
        if self.admin_url is not None:
            from tests.support.postgres import drop_database

            drop_database(self.admin_url, self.database_url)


def add_account(run: Run, user: str, password: str, *, messages: int, index: int = 0) -> int:
    """An inbound account on the benchmark mailbox that takes it all in one poll."""
    bench = run.bench
    properties = [f"fetch_chunk={bench.chunk}"]
    if bench.tls:
        properties.append(f"tls_ca_file={bench.dovecot.ca_file}")
    given = {
        "name": f"bench-{run.number}-{index + 1}",
        "type": "inbound",
        "protocol": "imap",
        "host": bench.dovecot.host,
        "encryption": "ssl" if bench.tls else "none",
        "port": bench.dovecot.imaps_port if bench.tls else bench.dovecot.imap_port,
        "login": user,
        "password": password,
        "polling_interval": 1,
        "max_batch": messages,
        "properties": "\n".join(properties),
    }
    box = SecretBox(run.key)
    with run.database.session() as session:
        account = AccountService(session, secrets=lambda: box, actor="bench").add(given).account
    assert account.id is not None
    run.account_ids.append(account.id)
    return account.id
