"""Fixtures of the pipeline tests: a cluster of mailpoll processes with its own events Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import Cluster
from tests.support.dovecot import DovecotServer
from tests.support.oauth_server import OAuthServer, dovecot_checking
from tests.support.redis_server import RedisServer


@pytest.fixture
def events_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.cleanup()


@pytest.fixture
def cluster(tmp_path: Path, redis_url: str, events_redis: RedisServer) -> Iterator[Cluster]:
    cluster = Cluster(tmp_path, redis_url, events_redis.url)
    yield cluster
    cluster.close()


@pytest.fixture(scope="module")
def provider() -> Iterator[OAuthServer]:
    """The stand-in OAuth2 provider."""
    server = OAuthServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def oauth_dovecot(provider: OAuthServer) -> Iterator[DovecotServer]:
    """A Dovecot whose XOAUTH2 logins the stand-in provider checks."""
    with dovecot_checking(provider) as server:
        yield server
