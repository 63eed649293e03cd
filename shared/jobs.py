"""Enqueueing jobs by queue and actor name, so callers need not import the actors."""

from __future__ import annotations

from typing import Any

import dramatiq

from shared import keys


def enqueue_poll(broker: dramatiq.Broker, account_id: int) -> None:
    """Ask for one poll of an account; jobs carry the account id, never a secret."""
    _enqueue(broker, keys.POLL_QUEUE, keys.POLL_ACTOR, (account_id,))


def enqueue_housekeeping(broker: dramatiq.Broker) -> None:
    _enqueue(broker, keys.HOUSEKEEPING_QUEUE, keys.HOUSEKEEPING_ACTOR, ())


def enqueue_send(broker: dramatiq.Broker, payload: dict[str, Any]) -> str:
    """Queue a mail for the send actor; returns the job's id."""
    return _enqueue(broker, keys.SEND_QUEUE, keys.SEND_ACTOR, (payload,))


def _enqueue(broker: dramatiq.Broker, queue: str, actor: str, args: tuple[Any, ...]) -> str:
    message: dramatiq.Message[None] = dramatiq.Message(
        queue_name=queue, actor_name=actor, args=args, kwargs={}, options={}
    )
    broker.enqueue(message)
    return str(message.message_id)
