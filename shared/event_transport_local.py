"""The single-machine event transport: kombu's virtual transport over one SQLite file.

kombu's filesystem transport lets a reader open a message file its writer has not finished
(celery/kombu#1551), and kombu's SQLAlchemy transport keeps bindings in each process's
memory, so a publisher never learns of a queue another process bound. Here bindings,
queues and messages are rows of one WAL-mode SQLite file (shared/event_store.py): any
process that opens it routes by the same bindings, and a queue keeps what it was sent until
its consumer acknowledges it. A batch of publishes is one transaction.

Use it from any process on the machine with
`kombu.Connection(transport=TRANSPORT, transport_options={"database": PATH})`.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections import deque
from functools import cached_property
from pathlib import Path
from typing import Any

from kombu.transport import virtual

from shared.event_connection import EventsURL
from shared.event_folder_import import import_events_folder
from shared.event_store import EventStore

log = logging.getLogger(__name__)

#: The `transport=` value that names this transport to kombu.
TRANSPORT = "shared.event_transport_local:Transport"
#: The file in the data dir.
FILENAME = "events.sqlite3"


def local_events_url(data_dir: str | Path) -> EventsURL:
    """The embedded mode's event transport: the SQLite file in the data dir.

    An `events/` folder left by an earlier version is imported into it first.
    """
    path = Path(data_dir).resolve() / FILENAME
    import_events_folder(path.parent, path)
    return EventsURL(
        "",
        {"database": str(path)},
        transport=TRANSPORT,
        description=f"the local event store {path}",
    )


class QoS(virtual.QoS):
    """Acknowledging deletes the stored message; a message given back is made visible again."""

    def ack(self, delivery_tag: str) -> None:
        self.channel.settle([delivery_tag], done=True)
        super().ack(delivery_tag)  # type: ignore[no-untyped-call]

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        self.channel.settle([delivery_tag], done=not requeue)
        self._quick_ack(delivery_tag)

    def restore_unacked(self) -> list[Any]:
        self._flush()  # type: ignore[no-untyped-call]
        tags = list(self._delivered)
        self._delivered.clear()
        self.channel.settle(tags, done=False)
        return []


class Channel(virtual.Channel):
    """Queues, bindings and messages in the SQLite file; consumers take messages in batches."""

    QoS = QoS
    supports_fanout = True  # makes kombu hand every binding to _queue_bind
    from_transport_options = (  # type: ignore[assignment]
        *virtual.Channel.from_transport_options,
        "database",
        "prefetch",
        "visibility_timeout",
        "private_queue_expiry",
    )
    database = ""
    #: How many messages a consumer reserves per read.
    prefetch = 100
    #: A message taken but not acknowledged (its consumer died) comes back after this.
    visibility_timeout = 300.0
    #: A private queue (`events tail`) nobody polled for this long is deleted.
    private_queue_expiry = 600.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]
        self._ready: dict[str, deque[tuple[int, dict[str, Any]]]] = {}
        self._rows: dict[str, int] = {}  # delivery tag -> message id, until settled
        self._done: list[int] = []
        self._declared: dict[str, tuple[bool, set[tuple[str, str, str]]]] = {}
        self._tidy_at = 0.0

    @cached_property
    def store(self) -> EventStore:
        if not self.database:
            raise ValueError("the local event transport needs transport_options['database']")
        return EventStore(self.database)

    def _tidy(self) -> None:
        """Now and then, delete the private queues their consumers abandoned (killed tails)."""
        now = time.monotonic()
        if now < self._tidy_at:
            return
        self._tidy_at = now + self.private_queue_expiry / 10
        dropped = self.store.drop_abandoned(idle_for=self.private_queue_expiry)
        if dropped:
            log.info("events: removed %d abandoned private queues", len(dropped))

    def _new_queue(self, queue: str, auto_delete: bool = False, **kwargs: Any) -> None:
        self.store.declare_queue(queue, auto_delete=auto_delete)
        self._declared.setdefault(queue, (auto_delete, set()))

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str, queue: str) -> None:
        self.store.bind(exchange, routing_key, pattern, queue)
        self._declared.setdefault(queue, (False, set()))[1].add((exchange, routing_key, pattern))

    def get_table(self, exchange: str) -> list[tuple[str, str, str]]:
        return self.store.table(exchange)

    def _put(self, queue: str, message: dict[str, Any], **kwargs: Any) -> None:
        batch: _Batch | None = kwargs.pop("_publish_batch", None)
        if batch is None:
            self.put_many([(queue, json.dumps(message))])
        else:
            batch.add(queue, json.dumps(message))

    def put_many(self, messages: list[tuple[str, str]]) -> None:
        self._tidy()
        self.store.put_many(messages)

    def create_publish_batch(self, max_size: int) -> _Batch:
        return _Batch(self, max_size)

    def _get(self, queue: str, timeout: float | None = None) -> dict[str, Any]:
        ready = self._ready.setdefault(queue, deque())
        if not ready:
            self._fill(queue, ready)
        if not ready:
            raise virtual.Empty()
        row, message = ready.popleft()
        self._rows[message["properties"]["delivery_tag"]] = row
        return message

    def _fill(self, queue: str, ready: deque[tuple[int, dict[str, Any]]]) -> None:
        done, self._done = self._done, []
        try:
            rows = self.store.take(
                queue,
                limit=self.prefetch,
                hide_for=self.visibility_timeout,
                done=done,
                touch_every=min(10.0, self.private_queue_expiry / 4),
            )
        except sqlite3.OperationalError as error:  # busy beyond the time-out: poll again
            self._done.extend(done)
            log.debug("events: cannot read queue %s yet: %s", queue, error)
            return
        if rows is None:
            self._redeclare(queue)
            return
        for row, payload in rows:
            message = _decode(row, payload)
            if message is None:
                self._done.append(row)  # reported once, then deleted with the next read
            else:
                ready.append((row, message))

    def _redeclare(self, queue: str) -> None:
        """Our queue was deleted as abandoned (this consumer was stopped for long): bind anew."""
        auto_delete, bindings = self._declared.get(queue, (True, set()))
        log.warning("events: queue %s had been removed while unread; bound it again", queue)
        self.store.declare_queue(queue, auto_delete=auto_delete)
        for exchange, routing_key, pattern in bindings:
            self.store.bind(exchange, routing_key, pattern, queue)

    def settle(self, tags: list[str], *, done: bool) -> None:
        """Acknowledged (`done`) messages are deleted with the next read; others given back."""
        rows = [self._rows.pop(tag) for tag in tags if tag in self._rows]
        if done:
            self._done.extend(rows)
        elif rows:
            self.store.release(rows)

    def queue_delete(
        self, queue: str, if_unused: bool = False, if_empty: bool = False, **kwargs: Any
    ) -> None:
        if if_empty and self._size(queue):
            return
        self.store.delete_queue(queue)
        self.state.queue_bindings_delete(queue)
        self._ready.pop(queue, None)

    def _has_queue(self, queue: str, **kwargs: Any) -> bool:
        return self.store.has_queue(queue)

    def _size(self, queue: str) -> int:
        return self.store.size(queue)

    def _purge(self, queue: str) -> int:
        return self.store.purge(queue)

    def close(self) -> None:
        super().close()  # type: ignore[no-untyped-call]  # gives unacknowledged messages back through QoS.restore_unacked
        if "store" in self.__dict__:
            reserved = [row for ready in self._ready.values() for row, _ in ready]
            self._ready.clear()
            try:
                self.store.release(reserved)
                self.store.done(self._done)
            except sqlite3.Error:  # they come back after the visibility time-out
                log.debug("events: closing the local transport failed", exc_info=True)
            self.store.close()


def _decode(row: int, payload: str) -> dict[str, Any] | None:
    """The stored kombu message, or None (reported) when it is not one."""
    try:
        message = json.loads(payload)
        message["properties"]["delivery_tag"]
        message["body"]
    except (ValueError, TypeError, KeyError) as error:
        log.warning("events: skipped stored message %d, which is not a kombu message: %r",
                    row, error)  # fmt: skip
        return None
    return message  # type: ignore[no-any-return]


class _Batch:
    """kombu's publish batch: the messages of one `Producer.batch()` in one transaction."""

    def __init__(self, channel: Channel, max_size: int) -> None:
        self.channel = channel
        self.max_size = max_size
        self._messages: list[tuple[str, str]] = []

    def publish(self, message: dict[str, Any], **kwargs: Any) -> Any:
        return self.channel.basic_publish(  # type: ignore[no-untyped-call]
            message, _publish_batch=self, **kwargs
        )

    def add(self, queue: str, payload: str) -> None:
        self._messages.append((queue, payload))
        if len(self._messages) >= self.max_size:
            self.flush()

    def flush(self) -> None:
        messages, self._messages = self._messages, []
        if messages:
            self.channel.put_many(messages)

    def discard(self) -> None:
        self._messages = []

    def close(self) -> None:
        self._messages = []


class Transport(virtual.Transport):
    """kombu's name for it: `transport="shared.event_transport_local:Transport"`."""

    Channel = Channel
    implements = virtual.Transport.implements.extend(
        asynchronous=False, batch_publish=True, exchange_type=frozenset(["direct", "topic"])
    )
    polling_interval = 0.1
    can_parse_url = True
    driver_type = driver_name = "sqlite"
    connection_errors = (  # type: ignore[assignment]
        *virtual.Transport.connection_errors,
        sqlite3.OperationalError,
    )
    channel_errors = (*virtual.Transport.channel_errors, sqlite3.DatabaseError)  # type: ignore[assignment]

    def driver_version(self) -> str:
        return sqlite3.sqlite_version
