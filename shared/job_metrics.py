"""Dramatiq middleware that records the queue and job figures of shared.metrics.

Dramatiq's own Prometheus middleware does not fit mailpoll: it forces multiprocess mode on a
fixed directory and starts an HTTP server of its own on another port. This one records into
the same metrics as everything else, which the role's /metrics serves.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from dramatiq.broker import Broker, MessageProxy
from dramatiq.common import q_name
from dramatiq.message import Message
from dramatiq.middleware import Middleware

from shared import metrics


class JobMetrics(Middleware):
    """Jobs enqueued, finished (by outcome), in progress, set aside, and their duration."""

    def __init__(self) -> None:
        self._started: dict[str, float] = {}
        self._lock = threading.Lock()

    def after_enqueue(self, broker: Broker, message: Message[Any], delay: int | None) -> None:
        metrics.JOBS_ENQUEUED.labels(q_name(message.queue_name)).inc()

    def before_process_message(self, broker: Broker, message: MessageProxy) -> None:
        metrics.JOBS_IN_PROGRESS.labels(q_name(message.queue_name)).inc()
        with self._lock:
            self._started[message.message_id] = time.monotonic()

    def after_process_message(
        self,
        broker: Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        self._ended(message, "done" if exception is None else "failed")

    def after_skip_message(self, broker: Broker, message: MessageProxy) -> None:
        self._ended(message, "skipped")

    def after_nack(self, broker: Broker, message: MessageProxy) -> None:
        metrics.JOBS_DEAD.labels(q_name(message.queue_name)).inc()

    def _ended(self, message: MessageProxy, outcome: str) -> None:
        queue = q_name(message.queue_name)
        with self._lock:
            started = self._started.pop(message.message_id, None)
        if started is None:  # skipped before it began (its time limit, say): nothing to close
            metrics.JOBS.labels(queue, outcome).inc()
            return
        metrics.JOBS_IN_PROGRESS.labels(queue).dec()
        metrics.JOBS.labels(queue, outcome).inc()
        metrics.JOB_DURATION.labels(queue).observe(time.monotonic() - started)
