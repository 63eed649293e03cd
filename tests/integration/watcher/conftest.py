"""Fixtures of the watcher tests: pipelines on real Dovecots and Redis, watched in-process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from tests.integration.watcher.harness import Watching
from tests.support.cluster import Cluster
from tests.support.dovecot import DovecotServer
from tests.support.pipeline import running_pipeline
from tests.support.redis_server import RedisServer

# Capabilities of Debian's Dovecot after login, less IDLE: a server that cannot push.
NO_IDLE = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE LITERAL+ UIDPLUS MOVE NAMESPACE CHILDREN"


class NoIdleDovecot(DovecotServer):
    """A Dovecot that does not offer IDLE (its `imap_capability` setting leaves it out)."""

    def _prepare(self) -> None:
        super()._prepare()
        with self.config_file.open("a") as config:
            config.write(f"imap_capability = {NO_IDLE}\n")


@contextmanager
def _watching(server: DovecotServer, redis_url: str, tmp_path: Path) -> Iterator[Watching]:
    with running_pipeline(server, redis_url, tmp_path) as pipeline:
        client = redis.Redis.from_url(redis_url)
        harness = Watching(pipeline, client, redis_url)
        try:
            yield harness
        finally:
            harness.close()
            client.close()


@contextmanager
def _started(server: DovecotServer) -> Iterator[DovecotServer]:
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


@pytest.fixture
def watching(dovecot: DovecotServer, redis_url: str, tmp_path: Path) -> Iterator[Watching]:
    """Accounts on the session's Dovecot."""
    with _watching(dovecot, redis_url, tmp_path) as harness:
        yield harness


@pytest.fixture
def own_dovecot() -> Iterator[DovecotServer]:
    """A Dovecot of this test's own, which it may stop and start."""
    with _started(DovecotServer()) as server:
        yield server


@pytest.fixture
def watching_own(own_dovecot: DovecotServer, redis_url: str, tmp_path: Path) -> Iterator[Watching]:
    with _watching(own_dovecot, redis_url, tmp_path) as harness:
        yield harness


@pytest.fixture(scope="module")
def no_idle_dovecot() -> Iterator[DovecotServer]:
    with _started(NoIdleDovecot()) as server:
        yield server


@pytest.fixture
def watching_no_idle(
    no_idle_dovecot: DovecotServer, redis_url: str, tmp_path: Path
) -> Iterator[Watching]:
    with _watching(no_idle_dovecot, redis_url, tmp_path) as harness:
        yield harness


@pytest.fixture
def cluster(tmp_path: Path, redis_url: str) -> Iterator[Cluster]:
    """mailpoll processes on a shared database and Redis, events on a Redis of their own."""
    events = RedisServer()
    events.start()
    cluster = Cluster(tmp_path, redis_url, events.url)
    try:
        yield cluster
    finally:
        cluster.close()
        events.cleanup()


@pytest.fixture
def watching_oauth(
    oauth_dovecot: DovecotServer, redis_url: str, tmp_path: Path
) -> Iterator[Watching]:
    with _watching(oauth_dovecot, redis_url, tmp_path) as harness:
        yield harness
