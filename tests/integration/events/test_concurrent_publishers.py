"""Worker threads publishing at once, a consumer that binds late, and a Redis outage."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from mailpoll.app import App
from mailpoll.runtime import Runtime
from shared.errors import PublishError
from shared.eventbus import EventConsumer, EventPublisher
from shared.events import build_outbound_event
from shared.settings import Settings
from tests.support.processes import wait_until
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.integration

THREADS = 4
BATCH = 10
Publish = Callable[[Sequence[dict[str, Any]]], object]


def outbound(thread: int, batch: int, n: int) -> dict[str, Any]:
    return build_outbound_event(
        outcome="sent", account=f"acct{thread}", message_id=f"<{thread}.{batch}.{n}@example.com>",
        sender="a@example.com", to=["b@example.com"], cc=[], subject="s",
    )  # fmt: skip


class Workers:
    """THREADS threads publishing batches until stopped; each batch noted with its start."""

    def __init__(self, publish: Publish) -> None:
        self.publish = publish
        self.batches: list[tuple[float, list[str], BaseException | None]] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(n,)) for n in range(THREADS)]
        for thread in self._threads:
            thread.start()

    def _run(self, thread: int) -> None:
        batch = 0
        while not self._stop.is_set():
            events = [outbound(thread, batch, n) for n in range(BATCH)]
            started = time.monotonic()
            error: BaseException | None = None
            try:
                self.publish(events)
            except BaseException as caught:  # the test judges every failure
                error = caught
            self.batches.append((started, [e["id"] for e in events], error))
            batch += 1

    def wait_for(self, more: int) -> None:
        target = len(self.batches) + more
        wait_until(lambda: len(self.batches) >= target, 30, f"{more} more batches")

    def published_after(self, moment: float) -> set[str]:
        return {i for started, ids, error in self.batches if started > moment for i in ids}

    def errors(self) -> list[BaseException]:
        return [error for _, _, error in self.batches if error is not None]

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)


@pytest.fixture
def runtime(tmp_path: Path, redis_url: str) -> Iterator[Runtime]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'mailpoll.db'}",
        redis_url=redis_url,
        events_url=redis_url,
        data_dir=tmp_path / "data",
        secret_key="x" * 44,
    )
    runtime = Runtime(App(settings), allow_embedded=False)
    yield runtime
    runtime.close()


@pytest.fixture(params=["runtime", "shared publisher"])
def publish(request: pytest.FixtureRequest, redis_url: str) -> Iterator[Publish]:
    """What the threads publish through: the runtime's path, or one EventPublisher shared."""
    if request.param == "runtime":
        yield request.getfixturevalue("runtime").send_deps.publish
        return
    with EventPublisher(redis_url) as publisher:
        yield publisher.publish_many


def bind_late_and_collect(workers: Workers, redis_url: str) -> tuple[set[str], Counter[str]]:
    """Bind a queue while the threads publish; what it should get after that, what it got."""
    received: list[dict[str, Any]] = []
    with EventConsumer(redis_url, binding="#") as consumer:
        bound_at = time.monotonic()
        workers.wait_for(40)
        workers.stop()
        expected = workers.published_after(bound_at)
        deadline = time.monotonic() + 15
        while not expected <= {e["id"] for e in received} and time.monotonic() < deadline:
            consumer.drain(received.append, timeout=0.2)
        consumer.drain(received.append, timeout=0.2)  # and any duplicate behind them
    return expected, Counter(e["id"] for e in received)


def assert_all_delivered_once(expected: set[str], got: Counter[str]) -> None:
    assert len(expected) >= 30 * BATCH
    missing = expected - set(got)
    assert not missing, f"{len(missing)} of {len(expected)} events published after the bind lost"
    assert set(got.values()) == {1}, "an event arrived twice"


def test_a_consumer_that_binds_late_gets_every_event_published_after_it_bound(
    publish: Publish, redis_url: str
) -> None:
    workers = Workers(publish)
    try:
        workers.wait_for(40)  # the threads have been publishing at once for a while
        expected, got = bind_late_and_collect(workers, redis_url)
    finally:
        workers.stop()
    assert workers.errors() == []
    assert_all_delivered_once(expected, got)


def test_threads_sharing_a_publisher_through_a_redis_outage_fail_cleanly_and_recover(
    redis_server: RedisServer, redis_url: str
) -> None:
    with EventPublisher(redis_url) as publisher:
        workers = Workers(publisher.publish_many)
        try:
            for _ in range(2):
                workers.wait_for(20)
                redis_server.restart()  # connections break under batches in flight
            workers.wait_for(40)
            failed = len(workers.errors())
            expected, got = bind_late_and_collect(workers, redis_url)
        finally:
            workers.stop()
    assert [e for e in workers.errors() if not isinstance(e, PublishError)] == []
    assert len(workers.errors()) == failed, "publishing kept failing once Redis was back"
    assert_all_delivered_once(expected, got)
