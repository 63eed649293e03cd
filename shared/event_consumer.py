"""Consuming events with kombu: a queue bound to the topic exchange, and `events tail`."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from kombu.entity import Exchange, Queue
from kombu.exceptions import KombuError
from kombu.messaging import Consumer

from shared.errors import ConnectError
from shared.event_connection import EventsURL, connect
from shared.events import CONTENT_TYPE, EXCHANGE, TAIL_BINDING

log = logging.getLogger(__name__)
#: What reading a message that is not one raises inside kombu (a JSON error, a missing key).
_UNREADABLE = (ValueError, TypeError, KeyError)


def exchange_entity(name: str) -> Exchange:
    """The durable topic exchange events are published to."""
    return Exchange(name, type="topic", durable=True)  # type: ignore[no-untyped-call]


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
            exchange=exchange_entity(exchange),
            routing_key=binding,
            durable=not private,
            auto_delete=private,
        )
        self._consumer: Any = None
        self._received: list[dict[str, Any]] = []
        self._reported: set[str] = set()

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
        except ValueError:  # UnicodeDecodeError too
            self._report(
                f"skipped message {message.delivery_tag}, which is not a JSON event:"
                f" {bytes(message.body[:80])!r}"
            )
        message.ack()

    def _report(self, problem: str) -> None:
        """Warn about an unreadable message once; the same problem again only at DEBUG."""
        if problem in self._reported:
            log.debug("events: %s", problem)
            return
        self._reported.add(problem)
        log.warning("events: %s", problem)

    def drain(self, callback: Callable[[dict[str, Any]], None], *, timeout: float) -> int:
        """Hand each waiting event to `callback`, waiting up to `timeout` s for the first.

        Returns when nothing more is waiting, or after about `timeout` s (at least 0.5 s).
        A message that cannot be read is reported and skipped; ConnectError if the broker
        is lost.
        """
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
            except _UNREADABLE as error:  # the transport has taken it off the queue already
                self._report(f"skipped a message that cannot be read: {error!r}")
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
                    # Transports without auto-delete (the local store) would otherwise keep
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
    """Call `callback` with every event published from now on until `stop` is set.

    It never stops following on its own: a broker lost after the first bind is waited for,
    and a new queue is bound when it is back (what was published meanwhile is missed).
    ConnectError only when the first bind fails.
    """
    consumer = EventConsumer(target, binding=binding, exchange=exchange).open()
    try:
        while not stop.is_set():
            try:
                consumer.drain(callback, timeout=0.2)
            except ConnectError as error:
                log.warning("%s; binding again when it is back", error)
                consumer.close()
                consumer = _reopen(target, binding, exchange, stop) or consumer
    finally:
        consumer.close()


def _reopen(
    target: str | EventsURL, binding: str, exchange: str, stop: threading.Event
) -> EventConsumer | None:
    """A consumer bound anew, trying every second until it works or `stop` is set."""
    while not stop.wait(1.0):
        try:
            return EventConsumer(target, binding=binding, exchange=exchange).open()
        except ConnectError as error:
            log.debug("events: still cannot bind: %s", error)
    return None
