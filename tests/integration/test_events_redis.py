"""Events through kombu's Redis transport on a real server: delivery, batches, outages, junk."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import redis

from shared.errors import PublishError
from shared.eventbus import EventConsumer, EventPublisher, tail
from shared.events import build_received_event, event_id
from shared.mail.parse import MessageMetadata
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.integration

SENT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
METADATA = MessageMetadata(message_id="<m@example.com>", subject="hi", from_=["a@example.com"])


def event(account: str = "acme", uid: int = 1) -> dict[str, Any]:
    return build_received_event(
        id=event_id(account, "INBOX", 7, uid),
        account=account,
        protocol="imap",
        folder="INBOX",
        uidvalidity=7,
        uid=uid,
        metadata=METADATA,
        size=10,
        sha256="00" * 32,
        raw_path=f"default/in/20261123/INBOX/{uid}.eml",
        time=SENT,
    )


def collect(consumer: EventConsumer, count: int, timeout: float = 10) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        consumer.drain(got.append, timeout=0.5)
    return got


def test_bound_consumer_gets_every_event_exactly(redis_url: str) -> None:
    events = [event(uid=uid) for uid in range(50)]
    with EventConsumer(redis_url) as consumer, EventPublisher(redis_url) as publisher:
        publisher.publish(events[0])
        publisher.publish_many(events[1:])
        got = collect(consumer, len(events))
    assert got == events


def test_binding_filters_by_account(redis_url: str) -> None:
    with (
        EventConsumer(redis_url, binding="message.received.acme") as acme,
        EventConsumer(redis_url) as everything,
        EventPublisher(redis_url) as publisher,
    ):
        publisher.publish_many([event("acme", 1), event("other", 2), event("acme", 3)])
        assert [e["data"]["uid"] for e in collect(acme, 2)] == [1, 3]
        assert len(collect(everything, 3)) == 3


def test_durable_named_queue_keeps_events_while_its_consumer_is_away(redis_url: str) -> None:
    with EventConsumer(redis_url, queue="downstream.test"):
        pass  # declared and bound once, as a downstream service would on first start
    with EventPublisher(redis_url) as publisher:
        publisher.publish(event(uid=5))
    with EventConsumer(redis_url, queue="downstream.test") as consumer:
        assert collect(consumer, 1) == [event(uid=5)]


def test_a_large_batch_arrives_whole_and_in_order(redis_url: str) -> None:
    # Speed is measured by bench/, not asserted here.
    events = [event(uid=uid) for uid in range(2000)]
    with EventConsumer(redis_url) as consumer, EventPublisher(redis_url) as publisher:
        assert publisher.publish_many(events) == 2000
        got = collect(consumer, 2000, timeout=30)
    assert got == events


def test_tail_sees_events_published_after_it_started(redis_url: str) -> None:
    got: list[dict[str, Any]] = []
    stop = threading.Event()
    thread = threading.Thread(target=tail, args=(redis_url, got.append, stop))
    thread.start()
    try:
        with EventPublisher(redis_url) as publisher:
            deadline = time.monotonic() + 10
            while not got and time.monotonic() < deadline:
                publisher.publish(event())
                time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert got
    assert got[0] == event()


def test_redis_outage_is_a_publish_error_and_the_publisher_recovers(
    redis_server: RedisServer, redis_url: str
) -> None:
    with EventPublisher(redis_url) as publisher:
        publisher.publish(event(uid=1))
        redis_server.stop()
        try:
            started = time.monotonic()
            with pytest.raises(PublishError):
                publisher.publish_many([event(uid=2), event(uid=3)])
            assert time.monotonic() - started < 5
        finally:
            redis_server.start()
        with EventConsumer(redis_url) as consumer:
            publisher.publish(event(uid=4))
            assert collect(consumer, 1) == [event(uid=4)]


def test_a_consumer_skips_what_is_not_a_message_and_reports_it_once(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with EventConsumer(redis_url) as consumer, EventPublisher(redis_url) as publisher:
        with redis.Redis.from_url(redis_url) as client:
            for _ in range(2):  # as a torn or foreign write would leave it
                client.lpush(consumer.queue.name, b'{"body": "half')
        publisher.publish(event(uid=9))
        with caplog.at_level(logging.WARNING):
            got = collect(consumer, 1)
    assert got == [event(uid=9)]
    reports = [r.getMessage() for r in caplog.records if "cannot be read" in r.getMessage()]
    assert len(reports) == 1


def test_tail_binds_again_after_losing_redis_and_goes_on(
    redis_server: RedisServer, redis_url: str
) -> None:
    got: list[dict[str, Any]] = []
    stop = threading.Event()
    thread = threading.Thread(target=tail, args=(redis_url, got.append, stop))
    thread.start()
    try:
        with EventPublisher(redis_url) as publisher:
            publish_until_seen(publisher, got, event(uid=1))
            redis_server.restart()  # the tail's queue and binding are gone with it
            publish_until_seen(publisher, got, event(uid=2))
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert event(uid=2) in got


def publish_until_seen(
    publisher: EventPublisher, got: list[dict[str, Any]], wanted: dict[str, Any]
) -> None:
    deadline = time.monotonic() + 20
    while wanted not in got and time.monotonic() < deadline:
        with contextlib.suppress(PublishError):  # while Redis restarts
            publisher.publish(wanted)
        time.sleep(0.1)
