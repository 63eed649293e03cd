"""Enqueueing jobs by queue and actor name, so callers need not import the actors."""

from __future__ import annotations

import dramatiq

from shared import keys


def enqueue_poll(broker: dramatiq.Broker, account_id: int) -> None:
    """Ask for one poll of an account; jobs carry the account id, never a secret."""
    _enqueue(broker, keys.POLL_QUEUE, keys.POLL_ACTOR, (account_id,))


def enqueue_housekeeping(broker: dramatiq.Broker) -> None:
    _enqueue(broker, keys.HOUSEKEEPING_QUEUE, keys.HOUSEKEEPING_ACTOR, ())


def _enqueue(broker: dramatiq.Broker, queue: str, actor: str, args: tuple[int, ...]) -> None:
    message: dramatiq.Message[None] = dramatiq.Message(
        queue_name=queue, actor_name=actor, args=args, kwargs={}, options={}
    )
    broker.enqueue(message)
