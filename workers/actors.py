"""The Dramatiq actors: thin declarations that call the plain functions in `workers`."""

from __future__ import annotations

import dramatiq

from shared import keys
from workers.housekeeping import run_housekeeping
from workers.poll import PollDeps, poll_account

# A poll ends within its time budget (`poll_budget_seconds`); this only cuts a stuck one.
POLL_TIME_LIMIT_MS = 60 * 60 * 1000


def register(broker: dramatiq.Broker, deps: PollDeps) -> None:
    """Declare the actors on `broker`. Polls are not retried by Dramatiq: a failed poll is
    recorded with its backoff and the scheduler tries again, so failures never storm."""

    def poll(account_id: int) -> None:
        poll_account(account_id, deps)

    dramatiq.actor(
        broker=broker,
        actor_name=keys.POLL_ACTOR,
        queue_name=keys.POLL_QUEUE,
        max_retries=0,
        time_limit=POLL_TIME_LIMIT_MS,
    )(poll)

    def housekeeping() -> None:
        run_housekeeping(deps)

    dramatiq.actor(
        broker=broker,
        actor_name=keys.HOUSEKEEPING_ACTOR,
        queue_name=keys.HOUSEKEEPING_QUEUE,
        max_retries=0,
        time_limit=POLL_TIME_LIMIT_MS,
    )(housekeeping)
