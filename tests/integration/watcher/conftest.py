"""Fixtures of the watcher tests: a pipeline on the real Dovecot and Redis, watched in-process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.integration.watcher.harness import Watching
from tests.support.dovecot import DovecotServer
from tests.support.pipeline import running_pipeline


@pytest.fixture
def watching(dovecot: DovecotServer, redis_url: str, tmp_path: Path) -> Iterator[Watching]:
    with running_pipeline(dovecot, redis_url, tmp_path) as pipeline:
        client = redis.Redis.from_url(redis_url)
        harness = Watching(pipeline, client)
        try:
            yield harness
        finally:
            harness.close()
            client.close()
