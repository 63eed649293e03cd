"""A poll pipeline wired to the real Dovecot and Redis, with a clock the test moves."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis

from shared.accounts.service import AccountService
from shared.db.database import Database
from shared.db.models import Account
from shared.keystore import EnvironmentKeystore
from shared.secrets import SecretBox, new_key
from shared.store import MessageStore
from tests.support.dovecot import DovecotServer
from tests.support.event_schema import check_event
from workers.credentials import CredentialSource
from workers.mailbox import opener
from workers.poll import PollDeps, PollResult, poll_account


class MovableClock:
    """Now, as the test says; starts at the real time so INTERNALDATEs look recent."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Pipeline:
    """Accounts on a throwaway database, polled into a throwaway upload dir."""

    dovecot: DovecotServer
    database: Database
    redis: redis.Redis
    upload_dir: Path
    clock: MovableClock = field(default_factory=MovableClock)
    published: list[dict[str, Any]] = field(default_factory=list)
    enqueued: list[int] = field(default_factory=list)
    postponed: list[tuple[int, float]] = field(default_factory=list)
    fail_publish: BaseException | None = None

    def __post_init__(self) -> None:
        self.box = SecretBox(new_key())
        self.credentials = CredentialSource(
            database=self.database, secrets=lambda: self.box, keystore=EnvironmentKeystore()
        )

    def add_account(self, user: str, password: str | None, **fields: Any) -> Account:
        given: dict[str, Any] = {
            "name": user.replace(".", "_"),
            "type": "inbound",
            "host": self.dovecot.host,
            "protocol": "imap",
            "encryption": "none",
            "port": self.dovecot.imap_port,
            "login": user,
            "password": password,
            **fields,
        }
        with self.database.session() as session:
            service = AccountService(session, secrets=lambda: self.box, actor="test")
            return service.add(given).account

    def update_account(self, name: str, **fields: Any) -> None:
        with self.database.session() as session:
            AccountService(session, secrets=lambda: self.box, actor="test").update(name, fields)

    def publish(self, batch: Sequence[dict[str, Any]]) -> None:
        if self.fail_publish is not None:
            raise self.fail_publish
        for event in batch:
            check_event(event)
        self.published.extend(batch)

    def deps(self) -> PollDeps:
        return PollDeps(
            database=self.database,
            redis=self.redis,
            store=MessageStore(self.upload_dir),
            publish=self.publish,
            open_mailbox=opener(self.credentials),
            clock=self.clock,
            enqueue_next=self.enqueued.append,
            postpone=lambda account_id, until: self.postponed.append((account_id, until)),
        )

    def poll(self, account: Account) -> PollResult:
        assert account.id is not None
        return poll_account(account.id, self.deps())

    def events(self) -> list[dict[str, Any]]:
        return list(self.published)


@contextlib.contextmanager
def running_pipeline(dovecot: DovecotServer, redis_url: str, tmp_path: Path) -> Iterator[Pipeline]:
    """A pipeline on a fresh SQLite database in `tmp_path`, closed afterwards."""
    database = Database(f"sqlite:///{tmp_path / 'mailpoll.db'}")
    database.upgrade()
    client = redis.Redis.from_url(redis_url)
    try:
        yield Pipeline(dovecot, database, client, tmp_path / "uploads")
    finally:
        client.close()
        database.dispose()
