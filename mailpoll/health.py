"""The pieces of each role's /metrics, /healthz and /readyz: checks and collectors.

Checks answer None when fine, else a one-line reason. Collectors add figures that are read
when scraped rather than counted as work happens: the cluster's queues and mailboxes (from
the scheduler) and the watcher's connections.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import dramatiq
import redis
import sqlalchemy as sa
from prometheus_client import REGISTRY
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from shared import redis_keys
from shared.db.database import Database
from shared.db.figures import ClusterFigures, cluster_figures
from shared.queue_depth import QueueDepth, queue_depths

log = logging.getLogger(__name__)
Check = Callable[[], str | None]
QUEUES = (redis_keys.POLL_QUEUE, redis_keys.SEND_QUEUE, redis_keys.HOUSEKEEPING_QUEUE)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def database_check(database: Database) -> Check:
    def check() -> str | None:
        try:
            with database.engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError as error:
            return f"database: {str(getattr(error, 'orig', None) or error).splitlines()[0]}"
        return None

    return check


def redis_check(client: redis.Redis) -> Check:
    def check() -> str | None:
        try:
            client.ping()
        except redis.RedisError as error:
            return f"redis: {error}"
        return None

    return check


class Alive(Protocol):
    def is_alive(self) -> bool: ...


def threads_alive(what: str, threads: Callable[[], Sequence[Alive]]) -> Check:
    """Fails when one of the threads (or processes: anything with is_alive) has ended."""

    def check() -> str | None:
        current = threads()
        dead = sum(1 for thread in current if not thread.is_alive())
        return f"{what}: {dead} of {len(current)} ended" if dead else None

    return check


def recent(what: str, last: Callable[[], float | None], within: float) -> Check:
    """Fails when `last()` (a Unix time) is older than `within` seconds: the loop is stuck."""

    def check() -> str | None:
        moment = last()
        if moment is None:
            return None  # not begun yet: the start-up takes its own time
        late = time.time() - moment
        return f"{what}: nothing for {late:.0f} s" if late > within else None

    return check


class Chain(Collector):
    """Several collectors served as one."""

    def __init__(self, *parts: Collector) -> None:
        self._parts = parts

    def collect(self) -> Iterable[Metric]:
        for part in self._parts:
            yield from part.collect()


def local_figures(*extra: Collector) -> Collector:
    """This process's metrics (the default registry, with process figures) and `extra`."""
    return Chain(REGISTRY, *extra)


class ClusterCollector(Collector):
    """The cluster's queues and mailboxes, read at most every `max_age` seconds.

    Every scheduler replica reports the same figures: aggregate them with max(), not sum().
    """

    def __init__(
        self, database: Database, broker: dramatiq.Broker, *, max_age: float = 10.0
    ) -> None:
        self._database = database
        self._broker = broker
        self._max_age = max_age
        self._lock = threading.Lock()
        self._read_at = -max_age
        self._metrics: list[Metric] = []

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            if time.monotonic() - self._read_at >= self._max_age:
                self._metrics = self._read()
                self._read_at = time.monotonic()
            return list(self._metrics)

    def _read(self) -> list[Metric]:
        now = datetime.now(UTC)
        try:
            with self._database.session() as session:
                figures = cluster_figures(session)
            depths = queue_depths(self._broker, QUEUES, int(now.timestamp() * 1000))
        except Exception as error:  # an outage shows in /readyz; the figures are just absent
            log.warning("cluster figures cannot be read: %s", error)
            return []
        return [*_mailbox_metrics(figures, now), *_queue_metrics(depths)]


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _mailbox_metrics(figures: ClusterFigures, now: datetime) -> list[Metric]:
    failing = GaugeMetricFamily(
        "mailpoll_accounts_failing", "Accounts whose last poll failed, by kind", labels=["kind"]
    )
    for kind, count in sorted(figures.failing.items()):
        failing.add_metric([kind], count)
    oldest = figures.oldest_waiting_at
    return [
        _gauge("mailpoll_accounts_enabled", "Enabled inbound accounts", figures.enabled_inbound),
        failing,
        _gauge(
            "mailpoll_mail_waiting_messages",
            "Messages left on the mail servers for the next polls (over max_batch or budget)",
            figures.mail_waiting,
        ),
        _gauge(
            "mailpoll_mail_oldest_waiting_age_seconds",
            "Age of the oldest message left waiting on a mail server (0: none waits)",
            max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
        ),
        _gauge("mailpoll_dead_letters", "Messages on the dead-letter list", figures.dead_letters),
    ]


def _queue_metrics(depths: Sequence[QueueDepth]) -> list[Metric]:
    waiting = GaugeMetricFamily(
        "mailpoll_queue_messages", "Jobs waiting in the broker, by queue", labels=["queue"]
    )
    age = GaugeMetricFamily(
        "mailpoll_queue_oldest_message_age_seconds",
        "Age of the oldest job waiting in the broker, by queue (0: none waits)",
        labels=["queue"],
    )
    dead = GaugeMetricFamily(
        "mailpoll_queue_dead_messages", "Jobs in the broker's dead-letter queue", labels=["queue"]
    )
    for depth in depths:
        waiting.add_metric([depth.queue], depth.waiting)
        age.add_metric([depth.queue], depth.oldest_age_seconds or 0.0)
        if depth.dead is not None:
            dead.add_metric([depth.queue], depth.dead)
    return [waiting, age, dead]


class WatcherCollector(Collector):
    """How many accounts this watcher holds an IDLE connection for."""

    def __init__(self, watched: Callable[[], Sequence[int]]) -> None:
        self._watched = watched

    def collect(self) -> Iterable[Metric]:
        yield _gauge(
            "mailpoll_watcher_accounts", "Accounts this watcher watches", len(self._watched())
        )


class MultiprocessDir:
    """A fresh directory for prometheus-client's multiprocess files of one worker run.

    Set in the environment before the worker processes start, so that each of them writes its
    metrics there; the parent serves their sum and removes the directory when it ends.
    """

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="mailpoll-metrics-"))
        os.environ[MULTIPROC_ENV] = str(self.path)

    def figures(self) -> Collector:
        from prometheus_client.multiprocess import MultiProcessCollector

        return MultiProcessCollector(None, path=str(self.path))  # type: ignore[no-untyped-call]

    def process_ended(self, pid: int) -> None:
        """Drop the live gauges (jobs in progress) of a process that has ended."""
        from prometheus_client.multiprocess import mark_process_dead

        mark_process_dead(pid, str(self.path))  # type: ignore[no-untyped-call]

    def remove(self) -> None:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(self.path, ignore_errors=True)
