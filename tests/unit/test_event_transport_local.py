"""The local event transport on an SQLite file: routing, durability, redelivery, bad rows."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

import kombu
import pytest

from shared.event_connection import EventsURL
from shared.event_transport_local import TRANSPORT, local_events_url
from shared.eventbus import EventConsumer, EventPublisher

Events = list[dict[str, Any]]


def event(n: int, account: str = "acme") -> dict[str, Any]:
    return {"type": "mailpoll.message.received", "id": f"id-{n}", "data": {"account": account}}


def collect(consumer: EventConsumer, count: int, timeout: float = 5) -> Events:
    got: Events = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        consumer.drain(got.append, timeout=0.2)
    return got


def ids(events: Events) -> list[str]:
    return [e["id"] for e in events]


def with_options(target: EventsURL, **options: Any) -> EventsURL:
    return EventsURL(
        target.url, {**target.transport_options, **options}, transport=target.transport
    )


def rows(target: EventsURL, query: str) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(target.transport_options["database"])) as db:
        return db.execute(query).fetchall()


@pytest.fixture
def target(tmp_path: Path) -> EventsURL:
    return local_events_url(tmp_path / "data")


def test_the_store_is_one_file_in_the_data_dir(target: EventsURL, tmp_path: Path) -> None:
    assert target.transport == TRANSPORT
    assert target.transport_options["database"] == str(tmp_path / "data" / "events.sqlite3")
    with EventPublisher(target) as publisher:
        publisher.publish(event(1))
    assert rows(target, "PRAGMA journal_mode") == [("wal",)]


def test_events_arrive_in_order_and_are_deleted_once_acknowledged(target: EventsURL) -> None:
    with EventConsumer(target) as consumer, EventPublisher(target) as publisher:
        publisher.publish_many([event(n) for n in range(300)])
        got = collect(consumer, 300)
        consumer.drain(got.append, timeout=0.2)  # and the acknowledgements are written
    assert ids(got) == [f"id-{n}" for n in range(300)]
    assert rows(target, "SELECT count(*) FROM messages") == [(0,)]


def test_only_events_published_after_the_bind_are_delivered(target: EventsURL) -> None:
    with EventPublisher(target) as publisher:
        publisher.publish(event(1))
        with EventConsumer(target) as consumer:
            publisher.publish(event(2))
            assert ids(collect(consumer, 1)) == ["id-2"]


def test_a_binding_filters_by_account(target: EventsURL) -> None:
    with (
        EventConsumer(target, binding="message.received.acme") as acme,
        EventPublisher(target) as publisher,
    ):
        publisher.publish_many([event(1, "other"), event(2), event(3, "x")])
        assert ids(collect(acme, 1)) == ["id-2"]


def test_a_durable_queue_keeps_what_was_published_while_its_consumer_was_away(
    target: EventsURL,
) -> None:
    with EventConsumer(target, queue="downstream"):
        pass  # declared and bound on first start
    with EventPublisher(target) as publisher:
        publisher.publish_many([event(1), event(2)])
    with EventConsumer(target, queue="downstream") as consumer:
        assert ids(collect(consumer, 2)) == ["id-1", "id-2"]


def test_a_private_queue_is_removed_when_its_consumer_closes(target: EventsURL) -> None:
    with EventConsumer(target), EventPublisher(target) as publisher:
        publisher.publish(event(1))
    assert rows(target, "SELECT count(*) FROM queues") == [(0,)]
    assert rows(target, "SELECT count(*) FROM messages") == [(0,)]


def test_a_message_taken_but_never_acknowledged_comes_back(target: EventsURL) -> None:
    quick = with_options(target, visibility_timeout=0.3)
    with kombu.Connection(transport=TRANSPORT, transport_options=quick.transport_options) as conn:
        queue = kombu.Queue("downstream", kombu.Exchange("mailpoll.events", type="topic"), "#")
        queue(conn.default_channel).declare()
        with EventPublisher(target) as publisher:
            publisher.publish(event(1))
        first = queue(conn.default_channel).get()  # taken, not acknowledged: the consumer "dies"
        assert first is not None
        time.sleep(0.4)
    with EventConsumer(target, queue="downstream") as consumer:
        assert ids(collect(consumer, 1)) == ["id-1"]


def test_a_stored_row_that_is_not_a_message_is_reported_once_and_skipped(
    target: EventsURL, caplog: pytest.LogCaptureFixture
) -> None:
    with EventConsumer(target) as consumer, EventPublisher(target) as publisher:
        queue = consumer.queue.name
        database = target.transport_options["database"]
        with contextlib.closing(sqlite3.connect(database)) as db, db:
            db.execute("INSERT INTO messages (queue, payload) VALUES (?, '{\"half')", (queue,))
        publisher.publish(event(2))
        with caplog.at_level(logging.WARNING):
            got = collect(consumer, 1)
    assert ids(got) == ["id-2"]
    [report] = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert "stored message 1" in report


def test_an_event_body_that_is_not_json_is_reported_and_skipped(
    target: EventsURL, caplog: pytest.LogCaptureFixture
) -> None:
    with EventConsumer(target) as consumer:
        with kombu.Connection(transport=TRANSPORT, transport_options=target.transport_options) as c:
            producer = kombu.Producer(c, kombu.Exchange("mailpoll.events", type="topic"))
            producer.publish(b"\xff not json", routing_key="message.received.acme")
            producer.publish(b'{"id": "id-3"}', routing_key="message.received.acme")
        with caplog.at_level(logging.WARNING):
            got = collect(consumer, 1)
    assert ids(got) == ["id-3"]
    assert any("not a JSON event" in r.getMessage() for r in caplog.records)


def test_an_abandoned_private_queue_is_dropped_and_its_consumer_binds_again(
    target: EventsURL,
) -> None:
    quick = with_options(target, private_queue_expiry=0.2)
    consumer = EventConsumer(quick).open()  # then killed: never closed
    try:
        time.sleep(0.3)
        with EventPublisher(quick) as publisher:
            publisher.publish(event(1))  # the publisher tidies up first
            assert rows(target, "SELECT count(*) FROM messages") == [(0,)]
            assert collect(consumer, 1, timeout=0.5) == []  # it finds its queue gone: binds again
            publisher.publish(event(2))
            assert ids(collect(consumer, 1)) == ["id-2"]
    finally:
        consumer.close()


def test_an_old_events_folder_is_imported_once_and_set_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    old = {
        "data_folder_in": str(data / "events" / "messages"),
        "data_folder_out": str(data / "events" / "messages"),
        "control_folder": str(data / "events" / "control"),
    }
    for folder in old.values():
        Path(folder).mkdir(parents=True, exist_ok=True)
    exchange = kombu.Exchange("mailpoll.events", type="topic", durable=True)
    with kombu.Connection("filesystem://", transport_options=old) as conn:  # the old transport
        kombu.Queue("downstream", exchange, "message.received.#")(conn.default_channel).declare()
        kombu.Queue("mailpoll.tail.x", exchange, "#")(conn.default_channel).declare()
        with EventPublisher(EventsURL("filesystem://", old)) as publisher:
            publisher.publish_many([event(1), event(2)])
    Path(old["data_folder_in"], "9_broken.downstream.msg").write_text('{"half')

    with caplog.at_level(logging.WARNING):
        target = local_events_url(data)
    assert not (data / "events").exists()
    assert (data / "events.imported").is_dir()
    assert any("moved 2 waiting events of 1 queues" in r.getMessage() for r in caplog.records)
    assert any("9_broken.downstream.msg" in r.getMessage() for r in caplog.records)
    assert rows(target, "SELECT name FROM queues") == [("downstream",)]
    with EventConsumer(target, queue="downstream") as consumer:
        # The old transport named files by millisecond, then a random uuid: no order within one.
        assert sorted(ids(collect(consumer, 2))) == ["id-1", "id-2"]
        with EventPublisher(local_events_url(data)) as publisher:  # nothing imported twice
            publisher.publish(event(3))
        assert ids(collect(consumer, 1)) == ["id-3"]
