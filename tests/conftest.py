"""Session fixtures that run real servers (Dovecot, Redis, PostgreSQL) for the tests."""

from __future__ import annotations

from collections.abc import Generator, Iterator

import pytest
import redis

from tests.support.dovecot import DovecotServer
from tests.support.postgres import drop_database, fresh_database, postgres_admin_url
from tests.support.redis_server import RedisServer


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    """A Dovecot started once per session, stopped and deleted at the end."""
    try:
        server = DovecotServer()
    except Exception as exc:
        pytest.fail(f"Dovecot cannot be started: {exc!r}", pytrace=False)
    try:
        server.start()
    except Exception as exc:
        tail = server.log_tail()
        server.cleanup()
        pytest.fail(f"Dovecot cannot be started: {exc!r}\n{tail}", pytrace=False)
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A redis-server started once per session on a free port."""
    server = RedisServer()
    try:
        server.start()
    except Exception as exc:
        tail = server.log_tail()
        server.cleanup()
        pytest.fail(f"redis-server cannot be started: {exc!r}\n{tail}", pytrace=False)
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """URL of the session's Redis, emptied before the test."""
    with redis.Redis.from_url(redis_server.url) as client:
        client.flushall()
    return redis_server.url


@pytest.fixture
def mailbox_user(dovecot: DovecotServer) -> tuple[str, str]:
    """(name, password) of a new user with an empty mailbox on the session's Dovecot."""
    password = "secret"
    return dovecot.new_user(password), password


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """URL of an empty database made for this test and dropped after it."""
    try:
        admin_url = postgres_admin_url()
    except RuntimeError as exc:
        pytest.fail(f"PostgreSQL cannot be started: {exc}", pytrace=False)
    url = fresh_database(admin_url)
    try:
        yield url
    finally:
        drop_database(admin_url, url)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the Dovecot log tail to the report of a failed test that used Dovecot."""
    report = yield
    server = getattr(item, "funcargs", {}).get("dovecot")
    if report.failed and isinstance(server, DovecotServer):
        report.sections.append(("Dovecot log", server.log_tail()))
    return report
