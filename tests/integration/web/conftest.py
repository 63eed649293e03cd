"""A `mailpoll web` per module on real PostgreSQL and Redis, with admin users, tokens and
signed-in browsers of each role, for the admin API's tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from shared.admins import AdminUsers
from shared.db.database import Database
from shared.tokens import ApiTokens
from tests.support.postgres import drop_database, fresh_database, postgres_admin_url
from tests.support.redis_server import RedisServer
from tests.support.web_server import WebServer, running_web

ADMIN_PASSWORD = "admin-Pa55word-Q7"
VIEWER_PASSWORD = "viewer-Pa55word-K3"


@dataclass
class Api:
    """The running server and callers of every kind."""

    web: WebServer
    admin_token: str
    viewer_token: str
    revoked_token: str
    clients: list[httpx.Client] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.web.url

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        made = httpx.Client(base_url=self.url, headers=headers, timeout=30)
        self.clients.append(made)
        return made

    def admin(self) -> httpx.Client:
        return self.client(self.admin_token)

    def viewer(self) -> httpx.Client:
        return self.client(self.viewer_token)

    def signed_in(self, name: str, password: str, *, csrf: bool = True) -> httpx.Client:
        """A browser signed in as `name`; it sends the CSRF header unless told not to."""
        browser = self.client()
        answer = browser.post("/api/session", json={"name": name, "password": password})
        assert answer.status_code == 200, answer.text
        if csrf:
            browser.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
        return browser

    def close(self) -> None:
        for client in self.clients:
            client.close()


def start_api(web: WebServer) -> Api:
    """Admin users alice (admin) and victor (viewer), and tokens, made through the services
    `mailpoll admins` and `mailpoll tokens` use (the commands have tests of their own)."""
    database = Database(web.env["MAILPOLL_DATABASE_URL"])
    try:
        with database.session() as session:
            admins = AdminUsers(session, actor="test")
            admins.add("alice", "admin", ADMIN_PASSWORD)
            admins.add("victor", "viewer", VIEWER_PASSWORD)
            tokens = ApiTokens(session, actor="test")
            made = {role: tokens.create(f"svc-{role}", role)[1] for role in ("admin", "viewer")}
            revoked = tokens.create("gone", "admin")[1]
            tokens.revoke("gone")
    finally:
        database.dispose()
    return Api(web, made["admin"], made["viewer"], revoked)


@pytest.fixture(scope="module")
def module_database() -> Iterator[str]:
    """A PostgreSQL database for the module's server, dropped after the module."""
    try:
        admin_url = postgres_admin_url()
    except RuntimeError as exc:
        pytest.fail(f"PostgreSQL cannot be started: {exc}", pytrace=False)
    url = fresh_database(admin_url)
    try:
        yield url
    finally:
        drop_database(admin_url, url)


@pytest.fixture(scope="module")
def api(
    tmp_path_factory: pytest.TempPathFactory, module_database: str, redis_server: RedisServer
) -> Iterator[Api]:
    """One server for the module (tests that change what others read make their own)."""
    tmp_path: Path = tmp_path_factory.mktemp("web")
    with running_web(tmp_path, module_database, redis_server.url, log_level="DEBUG") as web:
        served = start_api(web)
        try:
            yield served
        finally:
            served.close()
