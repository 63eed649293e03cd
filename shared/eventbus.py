"""Publishing events with kombu: batches, bounded retries, one publisher per thread."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from kombu.exceptions import KombuError
from kombu.messaging import Producer

from shared.errors import PublishError
from shared.event_connection import RETRY_POLICY, EventsURL, bindings_snapshot, connect, describe
from shared.event_consumer import EventConsumer, exchange_entity, tail
from shared.events import CONTENT_TYPE, EXCHANGE, routing_key

__all__ = ["EventConsumer", "EventPublisher", "PublisherPerThread", "tail"]

log = logging.getLogger(__name__)


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
        self.exchange = exchange_entity(exchange)
        self._connection = connect(target, transport_options or {})
        self._where = describe(target)
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
                self._connection, exchange=self.exchange, auto_declare=False
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
                raise PublishError(f"events: cannot publish to {self._where}: {error!r}") from error
        return len(prepared)

    def _publish(self, prepared: list[tuple[bytes, str]]) -> None:
        producer = self._producer_or_new()
        # The exchange is declared once per batch (kombu remembers it per connection), not
        # with every event: declaring copies the entity each time, half the publish's cost.
        producer.maybe_declare(self.exchange, retry=True, **RETRY_POLICY)
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
