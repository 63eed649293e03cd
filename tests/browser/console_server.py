"""`mailpoll run` as the console's server: web, scheduler and worker in one process on a
database of its own, so saved accounts really get polled and their events published."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shared.accounts.display import account_view
from shared.accounts.service import AccountService
from shared.admins import AdminUsers
from shared.db.database import Database
from shared.secrets import SecretBox, new_key
from shared.settings import Settings
from shared.system_settings import SystemSettings
from tests.support.ports import free_port
from tests.support.postgres import drop_database, fresh_database, postgres_admin_url
from tests.support.processes import MailpollProcess, environment, wait_until
from tests.support.web_server import _alive, _answers, mailpoll

ADMIN = ("alice", "admin-Pa55word-Q7")
VIEWER = ("victor", "viewer-Pa55word-K3")


@dataclass(frozen=True)
class Console:
    """The running console: its URL, the environment of its database, the process, and the
    account service on the same database (what `mailpoll accounts` uses, without starting a
    process for every look)."""

    url: str
    env: dict[str, str]
    process: MailpollProcess
    database: Database

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """A `mailpoll ...` command against the console's database."""
        return mailpoll(self.env, *args, stdin=stdin)

    @contextmanager
    def accounts(self) -> Iterator[AccountService]:
        box = SecretBox(self.env["MAILPOLL_SECRET_KEY"])
        with self.database.session() as session:
            yield AccountService(session, secrets=lambda: box, actor="test")

    def add(self, name: str, **fields: Any) -> None:
        with self.accounts() as service:
            service.add({"name": name, **fields})

    def find(self, name: str) -> dict[str, Any] | None:
        """The account as `mailpoll accounts show --json` gives it, or None."""
        with self.accounts() as service:
            account = service.find(name)
            return None if account is None else account_view(account)

    def names(self) -> list[tuple[str, str]]:
        """Every account's name and last change, to tell that nothing was saved."""
        with self.accounts() as service:
            return [(a.name, str(a.modified_at)) for a in service.list()]

    def setting(self, key: str) -> str | None:
        with self.database.session() as session:
            return SystemSettings(session, Settings(), actor="test").get(key)

    def show(self, name: str) -> dict[str, Any]:
        found = self.find(name)
        assert found is not None, f"no account {name}"
        return found


@contextmanager
def running_console(tmp_path: Path) -> Iterator[Console]:
    """`mailpoll run` (embedded Redis and event store) with admin alice and viewer victor."""
    try:
        admin_url = postgres_admin_url()
    except RuntimeError as exc:
        pytest.fail(f"PostgreSQL cannot be started: {exc}", pytrace=False)
    database_url = fresh_database(admin_url)
    port = free_port()
    env = environment(
        data_dir=str(tmp_path / "data"), database_url=database_url, secret_key=new_key(),
        web_port=str(port), default_poll_interval="1",
    )  # fmt: skip
    process = MailpollProcess(["run", "--quiet"], env, tmp_path / "console.log")
    try:
        migrated = mailpoll(env, "db", "upgrade")
        assert migrated.returncode == 0, migrated.stderr
        _add_admins(database_url)
        process.start()
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _answers(url) or not _alive(process), 30, "mailpoll run")
        if not _answers(url):
            pytest.fail(f"mailpoll run did not start:\n{process.log()}", pytrace=False)
        database = Database(database_url)
        try:
            yield Console(url, env, process, database)
        finally:
            database.dispose()
    finally:
        process.stop()
        drop_database(admin_url, database_url)


def _add_admins(database_url: str) -> None:
    database = Database(database_url)
    try:
        with database.session() as session:
            admins = AdminUsers(session, actor="test")
            admins.add(ADMIN[0], "admin", ADMIN[1])
            admins.add(VIEWER[0], "viewer", VIEWER[1])
    finally:
        database.dispose()
