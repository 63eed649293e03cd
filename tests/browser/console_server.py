"""`mailpoll run` as the console's server: web, scheduler and worker in one process on a
database of its own, so saved accounts really get polled and their events published."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.admins import AdminUsers
from shared.db.database import Database
from shared.secrets import new_key
from tests.support.ports import free_port
from tests.support.postgres import drop_database, fresh_database, postgres_admin_url
from tests.support.processes import MailpollProcess, environment, wait_until
from tests.support.web_server import mailpoll

ADMIN = ("alice", "admin-Pa55word-Q7")
VIEWER = ("victor", "viewer-Pa55word-K3")


@dataclass(frozen=True)
class Console:
    """The running console: its URL, the environment of its database, the process."""

    url: str
    env: dict[str, str]
    process: MailpollProcess

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """A `mailpoll ...` command against the console's database."""
        return mailpoll(self.env, *args, stdin=stdin)

    def database(self) -> Database:
        return Database(self.env["MAILPOLL_DATABASE_URL"])

    def show(self, name: str) -> dict[str, Any]:
        import json

        shown = self.cli("accounts", "show", name, "--json")
        assert shown.returncode == 0, shown.stderr
        view: dict[str, Any] = json.loads(shown.stdout)
        return view


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
        yield Console(url, env, process)
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


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _alive(process: MailpollProcess) -> bool:
    return process.process is not None and process.process.poll() is None
