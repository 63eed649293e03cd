"""The Dramatiq actors: thin declarations that call the plain functions in `workers`."""

from __future__ import annotations

import logging
import time
from typing import Any

import dramatiq

from shared import metrics, poll_requests, redis_keys
from shared.errors import PermanentError
from workers.housekeeping import run_housekeeping
from workers.poll import PollDeps, poll_account
from workers.send import SendDeps, SendRequest, announce_gave_up, send_mail

log = logging.getLogger(__name__)
MAX_SEND_RETRIES = 5

# A poll ends within its time budget (`poll_budget_seconds`); this only cuts a stuck one.
POLL_TIME_LIMIT_MS = 60 * 60 * 1000


def register(broker: dramatiq.Broker, deps: PollDeps, send_deps: SendDeps) -> None:
    """Declare the actors on `broker`. Polls are not retried by Dramatiq: a failed poll is
    recorded with its backoff and the scheduler tries again, so failures never storm."""

    def poll(account_id: int) -> None:
        poll_requests.taken(deps.redis, account_id)  # a push request from now on queues anew
        started = time.monotonic()
        result = poll_account(account_id, deps)
        tally, seconds = result.tally, time.monotonic() - started
        metrics.poll_ended(
            result.outcome, seconds, received=tally.announced, dead_lettered=tally.dead
        )

    dramatiq.actor(
        broker=broker,
        actor_name=redis_keys.POLL_ACTOR,
        queue_name=redis_keys.POLL_QUEUE,
        max_retries=0,
        time_limit=POLL_TIME_LIMIT_MS,
    )(poll)

    def housekeeping() -> None:
        run_housekeeping(deps)

    dramatiq.actor(
        broker=broker,
        actor_name=redis_keys.HOUSEKEEPING_ACTOR,
        queue_name=redis_keys.HOUSEKEEPING_QUEUE,
        max_retries=0,
        time_limit=POLL_TIME_LIMIT_MS,
    )(housekeeping)

    def send(payload: dict[str, Any]) -> None:
        request = SendRequest(**payload)
        try:
            send_mail(request, send_deps)
        except PermanentError as error:  # 5xx, bad configuration: `throws`, never retried
            metrics.SENDS.labels("refused").inc()
            log.error("send to %s refused for good: %s", ", ".join(request.to), error)
            raise
        # A TransientError propagates: Dramatiq retries it with exponential backoff.
        metrics.SENDS.labels("sent").inc()

    def send_gave_up(message: dict[str, Any], retries: dict[str, Any]) -> None:
        """The send's retries are exhausted: say so once, as `message.failed`."""
        request = SendRequest(**message["args"][0])
        error = last_error(message.get("options", {}).get("traceback"))
        log.error("send to %s given up after %s tries: %s", ", ".join(request.to),
                  retries.get("retries", 0) + 1, error)  # fmt: skip
        metrics.SENDS.labels("gave_up").inc()
        announce_gave_up(send_deps, request, error)

    dramatiq.actor(
        broker=broker,
        actor_name=redis_keys.SEND_ACTOR,
        queue_name=redis_keys.SEND_QUEUE,
        max_retries=MAX_SEND_RETRIES,
        min_backoff=5_000,
        max_backoff=300_000,
        time_limit=5 * 60 * 1000,
        throws=(PermanentError,),
        on_retry_exhausted=redis_keys.SEND_GAVE_UP_ACTOR,
    )(send)
    dramatiq.actor(
        broker=broker,
        actor_name=redis_keys.SEND_GAVE_UP_ACTOR,
        queue_name=redis_keys.SEND_QUEUE,
        max_retries=MAX_SEND_RETRIES,
    )(send_gave_up)


def last_error(traceback: str | None) -> str:
    """The error's own words from the traceback Dramatiq keeps with a failed message: its last
    line, without the exception's module and class."""
    lines = [line for line in (traceback or "").splitlines() if line.strip()]
    if not lines:
        return "the send kept failing"
    return lines[-1].partition(": ")[2] or lines[-1]
