"""kombu connections to the event transport, with a batch routed on one read of the bindings."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from kombu.connection import Connection
from kombu.transport import virtual
from kombu.utils.url import maybe_sanitize_url

#: Bounded retries: a dead broker fails the poll in a few seconds, and the poll is retried.
RETRY_POLICY: dict[str, Any] = {
    "max_retries": 3,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
_CONFIRMING_SCHEMES = ("amqp", "amqps", "pyamqp")


@dataclass(frozen=True)
class EventsURL:
    """A kombu URL, or a transport named by import path, with the options it needs."""

    url: str
    transport_options: Mapping[str, Any] = field(default_factory=dict)
    #: kombu's `transport=` (an import path) for a transport that no URL scheme names.
    transport: str | None = None
    #: Where events go, for people, when the URL does not say it.
    description: str = ""


def describe(target: str | EventsURL) -> str:
    """Where events go, for people and error messages: never a password."""
    if isinstance(target, str):
        target = EventsURL(target)
    return target.description or str(maybe_sanitize_url(target.url))


class _BatchRouting:
    """A virtual channel that can answer its binding table from a snapshot for one batch.

    kombu's virtual transports (Redis, the local transport) read the exchange's bindings for
    every message they route, a round trip each. Inside `bindings_snapshot()` the first read
    of each exchange is kept and reused, so a batch is routed as of its start, as a single
    publish is routed as of its own moment. The snapshot belongs to the thread that took it
    and is dropped when the block ends, however it ends: it can never outlive its batch.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._snapshots = threading.local()

    @contextlib.contextmanager
    def bindings_snapshot(self) -> Iterator[None]:
        outer = getattr(self._snapshots, "tables", None)
        self._snapshots.tables = {} if outer is None else outer
        try:
            yield
        finally:
            self._snapshots.tables = outer

    def get_table(self, exchange: str) -> Any:
        tables: dict[str, Any] | None = getattr(self._snapshots, "tables", None)
        if tables is None:
            return super().get_table(exchange)  # type: ignore[misc]
        if exchange not in tables:
            tables[exchange] = super().get_table(exchange)  # type: ignore[misc]
        return tables[exchange]


@cache
def _batch_routed(transport: type[Any]) -> type[Any]:
    """`transport` with a `_BatchRouting` channel; AMQP and other brokers route by themselves."""
    if not issubclass(transport, virtual.Transport):
        return transport
    channel = type(f"Batched{transport.Channel.__name__}", (_BatchRouting, transport.Channel), {})
    return type(f"Batched{transport.__name__}", (transport,), {"Channel": channel})


class _Connection(Connection):
    """A kombu Connection whose transport's channels take binding snapshots.

    Overriding the transport's construction keeps the URL's scheme as kombu parsed it (its
    TLS defaults, `as_uri()`), where passing a transport class would replace it.
    """

    def create_transport(self) -> Any:
        return _batch_routed(self.get_transport_cls())(client=self)  # type: ignore[no-untyped-call]


def bindings_snapshot(channel: Any) -> contextlib.AbstractContextManager[None]:
    """Route what is published in the block on one read of the bindings (see _BatchRouting)."""
    if isinstance(channel, _BatchRouting):
        return channel.bindings_snapshot()
    return contextlib.nullcontext()


def connect(
    target: str | EventsURL,
    extra: Mapping[str, Any],
    defaults: Mapping[str, Any] | None = None,
) -> Any:  # kombu is untyped: its objects are Any here
    """A connection (not yet open) to the events transport, with bounded retries."""
    if isinstance(target, str):
        target = EventsURL(target)
    scheme = target.url.split("://", 1)[0]
    options: dict[str, Any] = {
        **(defaults or {}),
        # Bound the (re)connection attempts kombu makes on its own before a publish.
        **RETRY_POLICY,
        "connect_retries_timeout": 3,
    }
    if scheme in ("redis", "rediss"):
        # redis-py 8 would otherwise retry a dead server for ~3 s inside every attempt.
        options["retry_on_timeout"] = False
        options["socket_connect_timeout"] = 2
    if scheme in _CONFIRMING_SCHEMES:
        options["confirm_publish"] = True
    options.update(target.transport_options)
    options.update(extra)
    return _Connection(  # type: ignore[no-untyped-call]
        target.url or None,
        transport=target.transport,
        transport_options=options,
        connect_timeout=2,
    )
