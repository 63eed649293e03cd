"""Fixtures of the pipeline tests: a cluster of mailpoll processes with its own events Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import Cluster
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
