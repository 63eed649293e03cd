"""A mailpoll cluster of real processes for tests: shared database, Redis, an events Redis."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from shared.accounts.service import AccountService
from shared.db.database import Database
from shared.eventbus import EventConsumer
from shared.secrets import SecretBox, new_key
from tests.support.dovecot import DovecotServer
from tests.support.event_schema import check_event
from tests.support.processes import MailpollProcess, environment


class Cluster:
    """A shared SQLite database, Redis for locks and jobs (unless `broker_url` names another
    broker), and an events broker of its own."""

    def __init__(
        self, tmp_path: Path, redis_url: str, events_url: str, *, broker_url: str | None = None
    ) -> None:
        self.tmp_path = tmp_path
        self.key = new_key()
        self.env = environment(
            database_url=f"sqlite:///{tmp_path / 'mailpoll.db'}",
            redis_url=redis_url,
            broker_url=broker_url or redis_url,
            events_url=events_url,
            secret_key=self.key,
            data_dir=str(tmp_path / "data"),
            log_level="INFO",
            lock_ttl_seconds="5",  # a killed worker's lease expires quickly
        )
        self.database = Database(self.env["MAILPOLL_DATABASE_URL"])
        self.database.upgrade()
        self.processes: list[MailpollProcess] = []
        self.events: list[dict[str, Any]] = []
        self._consumer = EventConsumer(events_url).open()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    def _collect(self) -> None:
        while not self._stop.is_set():
            self._consumer.drain(self._take, timeout=0.2)

    def _take(self, event: dict[str, Any]) -> None:
        check_event(event)  # a failure here shows as a missing event, with the reason logged
        self.events.append(event)

    def add_account(self, dovecot: DovecotServer, user: str, password: str, **fields: Any) -> None:
        box = SecretBox(self.key)
        given = {
            "name": user, "type": "inbound", "host": dovecot.host, "encryption": "none",
            "port": dovecot.imap_port, "login": user, "password": password,
            "polling_interval": 1, **fields,
        }  # fmt: skip
        with self.database.session() as session:
            AccountService(session, secrets=lambda: box, actor="test").add(given)

    def start(self, *args: str) -> MailpollProcess:
        number = len(self.processes)
        log_file = self.tmp_path / f"{args[0]}-{number}.log"
        process = MailpollProcess(list(args), self.env, log_file).start()
        self.processes.append(process)
        return process

    def ledger_count(self, user: str) -> int:
        query = sa.text(
            "SELECT count(*) FROM received_messages r JOIN email_accounts a ON a.id = r.account_id"
            " WHERE a.name = :name"
        )
        with self.database.engine.connect() as connection:
            return int(connection.execute(query, {"name": user}).scalar_one())

    def logs(self) -> str:
        return "\n".join(f"--- {p.log_file.name}\n{p.log()}" for p in self.processes)

    def close(self) -> None:
        for process in self.processes:
            process.stop()
        self._stop.set()
        self._thread.join(5)
        self._consumer.close()
        self.database.dispose()
