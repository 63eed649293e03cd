"""Events: stable ids, the contract's exact body, and publish/consume on in-process transports."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import kombu
import pytest
from kombu.transport import memory

from shared.errors import PublishError
from shared.eventbus import (
    EventConsumer,
    EventPublisher,
    PublisherPerThread,
    tail,
)
from shared.events import CONTENT_TYPE, build_received_event, event_id, routing_key
from shared.mail.parse import MessageMetadata
from tests.support.ports import free_port

FAST = {"polling_interval": 0.01}
METADATA = MessageMetadata(
    message_id="<abc@example.com>",
    subject="Invoice 42",
    from_=["a@example.com"],
    to=["b@example.com"],
    cc=[],
    date="2026-11-23T09:59:58Z",
    attachments=[{"filename": "a.pdf", "content_type": "application/pdf", "size": 1024}],
    parse_error=None,
)


def imap_event(account: str = "acme", uid: int = 42) -> dict[str, Any]:
    return build_received_event(
        id=event_id(account, "INBOX", 1700000000, uid),
        account=account,
        protocol="imap",
        folder="INBOX",
        uidvalidity=1700000000,
        uid=uid,
        metadata=METADATA,
        size=18231,
        sha256="ab" * 32,
        raw_path="default/in/20261123/INBOX/x.eml",
        time=datetime(2026, 11, 23, 11, 0, tzinfo=timezone(timedelta(hours=1))),
    )


@pytest.fixture
def exchange() -> str:
    """A fresh exchange per test: the memory transport's state is shared by the process."""
    return f"test.events.{uuid.uuid4().hex}"


def test_event_id_is_stable_and_a_uuid5() -> None:
    first = event_id("acme", "INBOX", 1700000000, 42)
    assert first == event_id("acme", "INBOX", 1700000000, 42)
    assert uuid.UUID(first).version == 5


def test_event_id_pinned_so_it_never_changes_between_releases() -> None:
    assert event_id("acme", "INBOX", 1700000000, 42) == "c0a71bbb-5a43-5170-bb32-ff00a82eff61"


@pytest.mark.parametrize(
    "other",
    [
        ("other", "INBOX", 1700000000, 42),
        ("acme", "Archive", 1700000000, 42),
        ("acme", "INBOX", 1700000001, 42),
        ("acme", "INBOX", 1700000000, 43),
        ("acme", "INBOX", 1700000000, "42"),
        (7, "INBOX", 1700000000, 42),
        ("acme", "", None, "42"),
    ],
)
def test_event_id_differs_for_any_other_message(other: tuple[Any, ...]) -> None:
    assert event_id(*other) != event_id("acme", "INBOX", 1700000000, 42)


def test_event_id_cannot_be_confused_by_separators() -> None:
    assert event_id("a:b", "c", None, "d") != event_id("a", "b:c", None, "d")


def test_imap_event_is_exactly_the_contract_example() -> None:
    event = imap_event()
    assert event == {
        "specversion": "1.0",
        "type": "mailpoll.message.received",
        "source": "mailpoll/accounts/acme",
        "id": event_id("acme", "INBOX", 1700000000, 42),
        "time": "2026-11-23T10:00:00Z",
        "subject": "INBOX",
        "datacontenttype": "application/json",
        "data": {
            "account": "acme",
            "protocol": "imap",
            "folder": "INBOX",
            "uidvalidity": 1700000000,
            "uid": 42,
            "message_id": "<abc@example.com>",
            "subject": "Invoice 42",
            "from": ["a@example.com"],
            "to": ["b@example.com"],
            "cc": [],
            "date": "2026-11-23T09:59:58Z",
            "size": 18231,
            "sha256": "ab" * 32,
            "attachments": [{"filename": "a.pdf", "content_type": "application/pdf", "size": 1024}],
            "raw_path": "default/in/20261123/INBOX/x.eml",
            "parse_error": None,
        },
    }
    assert list(event) == [
        "specversion", "type", "source", "id", "time", "subject", "datacontenttype", "data"
    ]  # fmt: skip
    assert list(event["data"])[:5] == ["account", "protocol", "folder", "uidvalidity", "uid"]


def test_pop3_event_carries_uidl_and_no_folder() -> None:
    event = build_received_event(
        id=event_id("pop", "", None, "0000002a5f3c1e00"),
        account="pop",
        protocol="pop3",
        uidl="0000002a5f3c1e00",
        metadata=METADATA,
        size=1,
        sha256="00" * 32,
        raw_path="default/in/20261123/INBOX/y.eml",
    )
    assert "subject" not in event
    assert event["data"]["uidl"] == "0000002a5f3c1e00"
    assert not {"folder", "uidvalidity", "uid"} & set(event["data"])
    assert list(event["data"])[:4] == ["account", "protocol", "uidl", "message_id"]
    assert event["time"].endswith("Z")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"protocol": "imap", "folder": "INBOX", "uidvalidity": 1},
        {"protocol": "imap", "uidvalidity": 1, "uid": 2},
        {"protocol": "pop3"},
        {"protocol": "smtp", "uidl": "x"},
    ],
)
def test_incomplete_events_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"IMAP|POP3|protocol"):
        build_received_event(
            id="x", account="a", metadata=METADATA, size=0, sha256="", raw_path="p", **kwargs
        )


def test_routing_key_names_the_account() -> None:
    assert routing_key(imap_event("acme")) == "message.received.acme"


def test_memory_publish_delivers_the_exact_body_key_and_properties(exchange: str) -> None:
    event = imap_event()
    received: list[kombu.Message] = []
    with kombu.Connection("memory://", transport_options=FAST) as connection:
        queue = kombu.Queue(
            f"q.{exchange}",
            kombu.Exchange(exchange, type="topic", durable=True),
            routing_key="message.received.#",
        )
        with kombu.Consumer(connection, [queue], on_message=received.append, accept=[]):
            with EventPublisher("memory://", exchange=exchange) as publisher:
                publisher.publish(event)
            connection.drain_events(timeout=2)
    [message] = received
    assert message.delivery_info["routing_key"] == "message.received.acme"
    assert message.content_type == CONTENT_TYPE
    assert message.properties["delivery_mode"] == 2
    assert json.loads(message.body) == event


def test_consumer_gets_what_it_is_bound_to_and_nothing_else(exchange: str) -> None:
    got: list[dict[str, Any]] = []
    binding = "message.received.acme"
    with (
        EventConsumer("memory://", binding=binding, exchange=exchange, transport_options=FAST)
        as consumer,
        EventPublisher("memory://", exchange=exchange) as publisher,
    ):  # fmt: skip
        publisher.publish_many([imap_event("other"), imap_event("acme"), imap_event("other2")])
        assert consumer.drain(got.append, timeout=2) == 1
    assert got == [imap_event("acme")]


def test_publish_many_keeps_order_and_counts(exchange: str) -> None:
    events = [imap_event(uid=uid) for uid in range(300)]
    got: list[dict[str, Any]] = []
    with (
        EventConsumer("memory://", exchange=exchange, transport_options=FAST) as consumer,
        EventPublisher("memory://", exchange=exchange) as publisher,
    ):
        assert publisher.publish_many(events) == 300
        assert publisher.publish_many([]) == 0
        deadline = time.monotonic() + 5
        while len(got) < 300 and time.monotonic() < deadline:
            consumer.drain(got.append, timeout=0.5)
    assert got == events


def test_explicit_routing_key_wins(exchange: str) -> None:
    got: list[dict[str, Any]] = []
    with (
        EventConsumer("memory://", binding="custom.#", exchange=exchange, transport_options=FAST)
        as consumer,
        EventPublisher("memory://", exchange=exchange) as publisher,
    ):  # fmt: skip
        publisher.publish(imap_event(), "custom.key")
        consumer.drain(got.append, timeout=2)
    assert got == [imap_event()]


def test_tail_calls_back_until_stopped(exchange: str) -> None:
    got: list[dict[str, Any]] = []
    stop = threading.Event()
    thread = threading.Thread(
        target=tail,
        args=("memory://", got.append, stop),
        kwargs={"exchange": exchange},
    )
    thread.start()
    try:
        with EventPublisher("memory://", exchange=exchange) as publisher:
            deadline = time.monotonic() + 5
            while not got and time.monotonic() < deadline:  # tail binds asynchronously
                publisher.publish(imap_event())
                time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()
    assert got
    assert got[0] == imap_event()


def test_a_queue_bound_between_two_batches_gets_the_second(exchange: str) -> None:
    got: list[dict[str, Any]] = []
    with EventPublisher("memory://", exchange=exchange) as publisher:
        publisher.publish_many([imap_event(uid=1), imap_event(uid=2)])
        with EventConsumer(
            "memory://", exchange=exchange, transport_options=FAST
        ) as consumer:  # bound after the first batch: its routing was not kept
            publisher.publish_many([imap_event(uid=3)])
            consumer.drain(got.append, timeout=2)
    assert [e["data"]["uid"] for e in got] == [3]


def test_a_batch_reads_the_bindings_once_and_keeps_nothing_after_it(
    exchange: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[str] = []
    table = memory.Channel.get_table

    def counting(channel: Any, name: str) -> Any:
        reads.append(name)
        return table(channel, name)

    monkeypatch.setattr(memory.Channel, "get_table", counting)
    with EventPublisher("memory://", exchange=exchange) as publisher:
        publisher.publish_many([imap_event(uid=uid) for uid in range(5)])
        assert reads == [exchange]
        channel = publisher._producer.channel
        channel.get_table(exchange)
        channel.get_table(exchange)
        assert reads == [exchange] * 3  # outside a batch, every read goes to the transport
        assert "get_table" not in vars(channel)  # nothing was installed on the channel


def test_each_thread_gets_its_own_publisher_and_close_closes_them_all() -> None:
    publishers = PublisherPerThread("memory://")
    seen: list[EventPublisher] = []
    threads = [threading.Thread(target=lambda: seen.append(publishers.get())) for _ in range(3)]
    for thread in threads:
        thread.start()
        thread.join()
    assert publishers.get() is publishers.get()
    assert len({id(p) for p in [*seen, publishers.get()]}) == 4
    publishers.close()
    assert publishers.get() not in seen


@pytest.mark.parametrize("scheme", ["redis", "amqp"])
def test_dead_broker_is_a_publish_error_within_the_retry_bound(scheme: str) -> None:
    url = f"{scheme}://127.0.0.1:{free_port()}/" + ("0" if scheme == "redis" else "")
    started = time.monotonic()
    with EventPublisher(url) as publisher, pytest.raises(PublishError, match="cannot publish"):
        publisher.publish(imap_event())
    assert time.monotonic() - started < 5


def test_event_time_defaults_to_now_in_utc() -> None:
    event = build_received_event(
        id="x", account="a", protocol="pop3", uidl="u", metadata=METADATA,
        size=0, sha256="", raw_path="p",
    )  # fmt: skip
    sent = datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - sent).total_seconds()) < 5
