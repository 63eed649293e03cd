"""The pipeline's Prometheus metrics (worker, scheduler, watcher): one definition per figure.

Every figure is defined here once and recorded where the work happens (the poll and send
actors, the event publisher, the scheduler's tick, OAuth2 refreshes, Dramatiq's middleware).
Labels are bounded: outcomes, kinds of failure, event types and queue names, never an account
(100,000 accounts would be 100,000 series; per-account detail is `mailpoll status`). The
metrics live in prometheus-client's default registry; in a worker of several processes each
process writes them to the multiprocess directory (PROMETHEUS_MULTIPROC_DIR, set by the parent
before it starts them), and the parent serves their sum.
"""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

from shared.errors import (
    AuthenticationError,
    ConfigError,
    ConnectError,
    FolderError,
    LockLostError,
    MailpollError,
    PermanentError,
    PublishError,
    SecretError,
    ServerBusyError,
    ServerTimeoutError,
    StoreError,
    TLSError,
    TransientError,
)
from shared.events import EVENT_TYPE

# No `*_created` series beside every counter: Prometheus does not need them, and they double
# what a scrape carries.
disable_created_metrics()  # type: ignore[no-untyped-call]
# Seconds: a poll of an idle mailbox takes tens of milliseconds, a big one its whole budget.
POLL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
LAG_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)

POLLS = Counter(
    "mailpoll_polls", "Polls that ended, by outcome: polled, busy, skipped, failed", ["outcome"]
)
POLL_DURATION = Histogram(
    "mailpoll_poll_duration_seconds", "How long polls took, by outcome", ["outcome"],
    buckets=POLL_BUCKETS,
)  # fmt: skip
POLL_FAILURES = Counter(
    "mailpoll_poll_failures", "Failed polls, by kind of failure (see failure_kind)", ["kind"]
)
MESSAGES_RECEIVED = Counter(
    "mailpoll_messages_received", "Messages received: saved, announced and recorded"
)
RECEIVED_BYTES = Counter(
    "mailpoll_received_bytes", "Bytes of the received messages whose events were published"
)
MESSAGES_DEAD_LETTERED = Counter(
    "mailpoll_messages_dead_lettered", "Messages set aside on the dead-letter list by polls"
)
LOCK_CONTENTION = Counter(
    "mailpoll_lock_contention", "Polls that ended at once: another worker held the account"
)
EVENTS_PUBLISHED = Counter("mailpoll_events_published", "Events published, by type", ["type"])
EVENTS_FAILED = Counter(
    "mailpoll_event_publish_failures", "Events whose batch could not be published, by type",
    ["type"],
)  # fmt: skip
SENDS = Counter(
    "mailpoll_sends",
    "Mail handed to the send actor, by outcome: sent, refused (a permanent failure), gave_up "
    "(its retries used up; each failed try is a failed job of the send queue)",
    ["outcome"],
)
OAUTH2_REFRESH_FAILURES = Counter(
    "mailpoll_oauth2_refresh_failures", "OAuth2 access tokens that could not be refreshed, by kind",
    ["kind"],
)  # fmt: skip
SCHEDULE_LAG = Histogram(
    "mailpoll_schedule_lag_seconds", "How late the scheduler enqueued polls behind their due time",
    buckets=LAG_BUCKETS,
)  # fmt: skip
SCHEDULER_TICK = Gauge(
    "mailpoll_scheduler_last_tick_timestamp_seconds", "When the scheduler last began a tick",
    multiprocess_mode="max",
)  # fmt: skip
JOBS_ENQUEUED = Counter("mailpoll_jobs_enqueued", "Jobs put on the broker, by queue", ["queue"])
JOBS = Counter(
    "mailpoll_jobs", "Jobs a worker finished, by queue and outcome: done, failed, skipped",
    ["queue", "outcome"],
)  # fmt: skip
JOBS_IN_PROGRESS = Gauge(
    "mailpoll_jobs_in_progress", "Jobs being worked on now, by queue", ["queue"],
    multiprocess_mode="livesum",
)  # fmt: skip
JOBS_DEAD = Counter(
    "mailpoll_jobs_dead_lettered", "Jobs the broker set aside after their last retry", ["queue"]
)
JOB_DURATION = Histogram(
    "mailpoll_job_duration_seconds", "How long jobs took, by queue", ["queue"],
    buckets=POLL_BUCKETS,
)  # fmt: skip

# Most specific first: TLSError and FolderError are PermanentErrors too.
_KINDS: tuple[tuple[type[MailpollError], str], ...] = (
    (AuthenticationError, "authentication"), (TLSError, "tls"), (FolderError, "folder"),
    (SecretError, "secret"), (ConfigError, "configuration"), (ConnectError, "connection"),
    (ServerTimeoutError, "timeout"), (ServerBusyError, "server_busy"), (PublishError, "publish"),
    (StoreError, "store"), (LockLostError, "lock_lost"), (PermanentError, "permanent"),
    (TransientError, "transient"),
)  # fmt: skip
FAILURE_KINDS = (*(kind for _, kind in _KINDS), "unexpected")


def failure_kind(error: BaseException) -> str:
    """The label of a failure: one of FAILURE_KINDS, whatever the message says."""
    for error_type, kind in _KINDS:
        if isinstance(error, error_type):
            return kind
    return "unexpected"


def poll_ended(outcome: str, seconds: float, *, received: int, dead_lettered: int) -> None:
    """A poll's figures, from its result (the poll actor calls this)."""
    POLLS.labels(outcome).inc()
    POLL_DURATION.labels(outcome).observe(seconds)
    MESSAGES_RECEIVED.inc(received)
    MESSAGES_DEAD_LETTERED.inc(dead_lettered)
    if outcome == "busy":
        LOCK_CONTENTION.inc()


def schedule_lags(lags: Sequence[float]) -> None:
    for lag in lags:
        SCHEDULE_LAG.observe(lag)


def poll_failed(error: BaseException) -> None:
    POLL_FAILURES.labels(failure_kind(error)).inc()


@contextlib.contextmanager
def publishing(batch: Sequence[Mapping[str, Any]]) -> Iterator[None]:
    """Count a batch of events as published, or as failed if the block raises."""
    types = collections.Counter(_type(event) for event in batch)  # one increment per type
    try:
        yield
    except Exception:
        for kind, count in types.items():
            EVENTS_FAILED.labels(kind).inc(count)
        raise
    for kind, count in types.items():
        EVENTS_PUBLISHED.labels(kind).inc(count)
    received = [event for event in batch if event.get("type") == EVENT_TYPE]
    if received:
        RECEIVED_BYTES.inc(sum(int(event.get("data", {}).get("size") or 0) for event in received))


def _type(event: Mapping[str, Any]) -> str:
    """The event's type without the common prefix: message.received, message.sent, ..."""
    return str(event.get("type", "unknown")).removeprefix("mailpoll.")
