"""`mailpoll web` as a real server in a subprocess, and the command line beside it on the same
database, for the admin API's tests."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from shared.secrets import new_key
from tests.support.ports import free_port
from tests.support.processes import MAILPOLL, MailpollProcess, environment, wait_until

ROOT = Path(__file__).parents[2]


def mailpoll(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """One `mailpoll ...` command, run to its end."""
    return subprocess.run(
        [*MAILPOLL, *args], env=env, cwd=ROOT, input=stdin, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip


@dataclass(frozen=True)
class WebServer:
    """The running server's base URL, and the environment that reaches its database."""

    url: str
    env: dict[str, str]
    process: MailpollProcess

    def token(self, name: str, role: str = "admin") -> str:
        """A new API token (`mailpoll tokens create`), for `Authorization: Bearer`."""
        made = mailpoll(self.env, "tokens", "create", name, "--role", role)
        assert made.returncode == 0, made.stderr
        return made.stdout.strip().splitlines()[-1]

    def client(self, token: str) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@contextmanager
def running_web(
    tmp_path: Path, database_url: str, redis_url: str, **settings: str
) -> Iterator[WebServer]:
    """`mailpoll web` on a free port against the given database and Redis."""
    port = free_port()
    env = environment(
        data_dir=str(tmp_path / "data"), database_url=database_url, redis_url=redis_url,
        secret_key=new_key(), web_port=str(port), **settings,
    )  # fmt: skip
    migrated = mailpoll(env, "db", "upgrade")
    assert migrated.returncode == 0, migrated.stderr
    process = MailpollProcess(["web"], env, tmp_path / "web.log").start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(url) or not _alive(process), 30, "mailpoll web")
        if not _answers(url):
            pytest.fail(f"mailpoll web did not start:\n{process.log()}", pytrace=False)
        yield WebServer(url, env, process)
    finally:
        process.stop()


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _alive(process: MailpollProcess) -> bool:
    return process.process is not None and process.process.poll() is None
