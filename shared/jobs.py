"""Enqueueing jobs by queue and actor name, so callers need not import the actors."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker

from shared import redis_keys


def enqueue_poll(broker: dramatiq.Broker, account_id: int) -> None:
    """Ask for one poll of an account; jobs carry the account id, never a secret."""
    _enqueue(broker, redis_keys.POLL_QUEUE, redis_keys.POLL_ACTOR, (account_id,))


def enqueue_polls(broker: dramatiq.Broker, account_ids: Sequence[int]) -> None:
    """Ask for one poll of each account, in one round trip on a Redis broker (the scheduler
    enqueues thousands a second). Middleware sees every message, as with `enqueue_poll`."""
    if not isinstance(broker, RedisBroker) or not _pipelines(broker):
        for account_id in account_ids:
            enqueue_poll(broker, account_id)
        return
    messages = [
        _message(redis_keys.POLL_QUEUE, redis_keys.POLL_ACTOR, (account_id,)).copy(
            options={"redis_message_id": str(uuid.uuid4())}
        )
        for account_id in account_ids
    ]
    for message in messages:
        broker.emit_before("enqueue", message, None)
    pipe: redis.client.Pipeline = broker.client.pipeline(transaction=False)
    dispatch = broker.scripts["dispatch"]
    for message in messages:
        # The arguments RedisBroker.enqueue gives its dispatch script (dramatiq 2.x).
        dispatch(
            keys=[broker.namespace],
            args=[
                "enqueue", dramatiq.common.current_millis(), message.queue_name,
                broker.broker_id, broker.heartbeat_timeout, broker.dead_message_ttl,
                broker._should_do_maintenance("enqueue"),
                broker._max_unpack_size(),  # type: ignore[no-untyped-call]
                message.options["redis_message_id"], message.encode(),
            ],
            client=pipe,
        )  # fmt: skip
    pipe.execute()
    for message in messages:
        broker.emit_after("enqueue", message, None)


def _pipelines(broker: RedisBroker) -> bool:
    """Whether this Dramatiq has the RedisBroker internals the pipelined enqueue calls (2.x);
    another version gets the plain, one-by-one enqueue instead of failing."""
    return (
        "dispatch" in getattr(broker, "scripts", {})
        and callable(getattr(broker, "_should_do_maintenance", None))
        and callable(getattr(broker, "_max_unpack_size", None))
    )


def enqueue_housekeeping(broker: dramatiq.Broker) -> None:
    _enqueue(broker, redis_keys.HOUSEKEEPING_QUEUE, redis_keys.HOUSEKEEPING_ACTOR, ())


def enqueue_send(broker: dramatiq.Broker, payload: dict[str, Any]) -> str:
    """Queue a mail for the send actor; returns the job's id."""
    return _enqueue(broker, redis_keys.SEND_QUEUE, redis_keys.SEND_ACTOR, (payload,))


def _message(queue: str, actor: str, args: tuple[Any, ...]) -> dramatiq.Message[None]:
    return dramatiq.Message(queue_name=queue, actor_name=actor, args=args, kwargs={}, options={})


def _enqueue(broker: dramatiq.Broker, queue: str, actor: str, args: tuple[Any, ...]) -> str:
    message = _message(queue, actor, args)
    broker.enqueue(message)
    return str(message.message_id)
