"""Publishing and consuming events with kombu: the topic exchange, retries, `events tail`."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from kombu.entity import Exchange, Queue
from kombu.exceptions import KombuError
from kombu.messaging import Consumer, Producer

from shared.errors import ConnectError, PublishError
from shared.event_connection import RETRY_POLICY, EventsURL, bindings_snapshot, connect
from shared.events import CONTENT_TYPE, EXCHANGE, TAIL_BINDING, routing_key

log = logging.getLogger(__name__)


def local_events_url(data_dir: str | Path) -> EventsURL:
    """The embedded mode's event transport: kombu's filesystem transport under the data dir.

    Publisher and `events tail` run in different processes, so bindings live in a control
    folder and messages in one shared folder; both are created here.
    """
    root = Path(data_dir) / "events"
    messages, control = root / "messages", root / "control"
    for folder in (messages, control):
        folder.mkdir(parents=True, exist_ok=True)
    return EventsURL(
        "filesystem://",
        {
            "data_folder_in": str(messages),
            "data_folder_out": str(messages),
            "control_folder": str(control),
            "polling_interval": 0.1,
        },
    )


def _exchange(name: str) -> Exchange:
    return Exchange(name, type="topic", durable=True)  # type: ignore[no-untyped-call]


class EventPublisher:
    """Publishes events to the topic exchange; one connection and producer, reused.

    Every failure (connection refused, broker gone mid-batch, retries used up) comes out as
    PublishError, so the poll stops before it commits or deletes anything on the server.
    Safe to share between threads (a lock makes their batches take turns), but a process
    with several publishing threads gives each its own (`PublisherPerThread`).
    """

    def __init__(
        self,
        target: str | EventsURL,
        *,
        exchange: str = EXCHANGE,
        transport_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.exchange = _exchange(exchange)
        self._connection = connect(target, transport_options or {})
        self._producer: Any = None
        # kombu's connection, channel and Redis pipeline are not thread-safe.
        self._lock = threading.Lock()
        # RuntimeError: kombu refuses to go on with a batch whose channel was replaced.
        self._failures: tuple[type[BaseException], ...] = (
            KombuError,
            OSError,
            RuntimeError,
            *self._connection.connection_errors,
            *self._connection.channel_errors,
        )

    def _producer_or_new(self) -> Any:
        if self._producer is None:
            self._producer = Producer(  # type: ignore[no-untyped-call]
                self._connection, exchange=self.exchange, auto_declare=True
            )
        return self._producer

    def publish(self, event: Mapping[str, Any], routing_key: str | None = None) -> None:
        """Publish one event, persistent, with bounded retries; PublishError if it fails."""
        self.publish_many([event] if routing_key is None else [(event, routing_key)])

    def publish_many(
        self, events: Iterable[Mapping[str, Any] | tuple[Mapping[str, Any], str]]
    ) -> int:
        """Publish a batch over the same connection; returns how many were published.

        On Redis the batch goes out as pipelined commands (kombu's producer batch), and the
        whole batch is routed on one read of the exchange's bindings, taken when it starts:
        a queue bound while a batch is under way gets the batches that start after it. A
        failure means some events of the batch may be out: the poll then repeats them, with
        the same ids, and consumers dedup.
        """
        prepared = [
            (self._body(item[0]), item[1]) if isinstance(item, tuple)
            else (self._body(item), routing_key(item))
            for item in events
        ]  # fmt: skip
        if not prepared:
            return 0
        with self._lock:
            try:
                self._publish(prepared)
            except self._failures as error:
                self._reset()
                raise PublishError(
                    f"events: cannot publish to {self._connection.as_uri()}: {error!r}"
                ) from error
        return len(prepared)

    def _publish(self, prepared: list[tuple[bytes, str]]) -> None:
        producer = self._producer_or_new()
        with producer.batch(), bindings_snapshot(producer.channel):
            for body, key in prepared:
                producer.publish(
                    body,
                    routing_key=key,
                    content_type=CONTENT_TYPE,
                    content_encoding="utf-8",
                    delivery_mode="persistent",
                    retry=True,
                    retry_policy=RETRY_POLICY,
                    declare=[self.exchange],
                )

    @staticmethod
    def _body(event: Mapping[str, Any]) -> bytes:
        return json.dumps(event, ensure_ascii=False).encode("utf-8")

    def _reset(self) -> None:
        """Drop a connection in an unknown state; the next publish opens a fresh one."""
        self._producer = None
        try:
            self._connection.close()
        except Exception:  # closing a broken connection can fail any which way
            log.debug("closing a broken events connection failed", exc_info=True)

    def close(self) -> None:
        with self._lock:
            self._producer = None
            self._connection.release()

    def __enter__(self) -> EventPublisher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class PublisherPerThread:
    """One EventPublisher for each thread that publishes, all closed together.

    Dramatiq's worker threads poll at once; with a publisher each, no batch waits for
    another thread's, and none can disturb another's connection.
    """

    def __init__(self, target: str | EventsURL) -> None:
        self._target = target
        self._local = threading.local()
        self._lock = threading.Lock()
        self._publishers: list[EventPublisher] = []

    def get(self) -> EventPublisher:
        """This thread's publisher, made on its first publish."""
        publisher: EventPublisher | None = getattr(self._local, "publisher", None)
        if publisher is None:
            publisher = self._local.publisher = EventPublisher(self._target)
            with self._lock:
                self._publishers.append(publisher)
        return publisher

    def close(self) -> None:
        with self._lock:
            publishers, self._publishers = self._publishers, []
        self._local = threading.local()
        for publisher in publishers:
            publisher.close()


class EventConsumer:
    """A queue bound to the events exchange; bound on open, so it sees what follows.

    Without a queue name it gets a private auto-deleted queue (for `mailpoll events tail`);
    downstream services pass a durable name so nothing is missed while they are down.
    """

    def __init__(
        self,
        target: str | EventsURL,
        *,
        binding: str = TAIL_BINDING,
        queue: str | None = None,
        exchange: str = EXCHANGE,
        transport_options: Mapping[str, Any] | None = None,
    ) -> None:
        # Redis: a short BRPOP, so closing (and stopping `tail`) does not wait a second for it.
        self._connection = connect(
            target, transport_options or {}, defaults={"polling_interval": 0.2}
        )
        private = queue is None
        self.queue = Queue(  # type: ignore[no-untyped-call]
            queue or f"mailpoll.tail.{uuid.uuid4().hex}",
            exchange=_exchange(exchange),
            routing_key=binding,
            durable=not private,
            auto_delete=private,
        )
        self._consumer: Any = None
        self._received: list[dict[str, Any]] = []

    def open(self) -> EventConsumer:
        """Declare the exchange, the queue and the binding; start consuming."""
        try:
            channel = self._connection.default_channel
            self._consumer = Consumer(  # type: ignore[no-untyped-call]
                channel, queues=[self.queue], on_message=self._on_message, accept=[CONTENT_TYPE]
            )
            self._consumer.consume()
        except (KombuError, OSError, *self._connection.connection_errors) as error:
            raise ConnectError(f"events: cannot consume from the broker: {error!r}") from error
        return self

    def _on_message(self, message: Any) -> None:
        try:
            self._received.append(json.loads(message.body))
        except ValueError:
            log.warning("dropping an event that is not JSON: %r", message.body[:200])
        message.ack()

    def drain(self, callback: Callable[[dict[str, Any]], None], *, timeout: float) -> int:
        """Hand each waiting event to `callback`, waiting up to `timeout` s for the first.

        Returns when nothing more is waiting, or after about `timeout` s (at least 0.5 s)."""
        if self._consumer is None:
            self.open()
        count = 0
        wait = timeout
        # Under a steady stream there is always more: return now and then all the same, so
        # that the caller can look at its stop flag.
        until = time.monotonic() + max(timeout, 0.5)
        while True:
            try:
                self._connection.drain_events(timeout=wait)
            except TimeoutError:
                return count
            except (KombuError, OSError, *self._connection.connection_errors) as error:
                raise ConnectError(f"events: lost the broker: {error!r}") from error
            received, self._received = self._received, []
            for event in received:
                callback(event)
            count += len(received)
            if time.monotonic() >= until:
                return count
            wait = 0.05  # only collect what is already there once something arrived

    def close(self) -> None:
        if self._consumer is not None:
            try:
                self._consumer.cancel()
                if self.queue.auto_delete:
                    # Transports without auto-delete (the local folder) would otherwise keep
                    # the binding, and write every later event for a queue nobody reads.
                    self.queue.bind(self._connection.default_channel).delete()  # type: ignore[no-untyped-call]
            except Exception:  # the broker may be gone already; the queue then expires there
                log.debug("cancelling the events consumer failed", exc_info=True)
            self._consumer = None
        self._connection.release()

    def __enter__(self) -> EventConsumer:
        return self.open()

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def tail(
    target: str | EventsURL,
    callback: Callable[[dict[str, Any]], None],
    stop: threading.Event,
    *,
    binding: str = TAIL_BINDING,
    exchange: str = EXCHANGE,
) -> None:
    """Call `callback` with every event published from now on until `stop` is set."""
    with EventConsumer(target, binding=binding, exchange=exchange) as consumer:
        while not stop.is_set():
            consumer.drain(callback, timeout=0.2)
