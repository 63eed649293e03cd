"""Enqueueing jobs by queue and actor name, so callers need not import the actors."""

from __future__ import annotations

import dramatiq

from shared import keys


def enqueue_poll(broker: dramatiq.Broker, account_id: int) -> None:
    """Ask for one poll of an account; jobs carry the account id, never a secret."""
    message: dramatiq.Message[None] = dramatiq.Message(
        queue_name=keys.POLL_QUEUE,
        actor_name=keys.POLL_ACTOR,
        args=(account_id,),
        kwargs={},
        options={},
    )
    broker.enqueue(message)
