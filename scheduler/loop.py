"""The scheduler process: each tick, enqueue a poll for every account that is due.

A tick asks the database one thing, the configuration's version (one lookup by primary key);
only when it moved does it read what changed. Due polls are claimed from the shared schedule
in Redis and enqueued in batches.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from scheduler import plan
from shared import metrics
from shared.clock import utcnow
from shared.db import changes, ledger
from shared.db.database import Database
from shared.errors import MailpollError
from shared.schedule import Schedule

log = logging.getLogger(__name__)
Enqueue = Callable[[Sequence[int]], None]
CLAIM_BATCH = 2000  # polls claimed (and enqueued together) at once
KEEP_CHANGES = 1000  # configuration versions kept in the change log behind the newest
SHORTEST_WAIT = 0.1  # seconds between ticks when polls are due that soon (or sooner)
LAG_REPORT_SECONDS = 60.0


class Scheduler:
    """Follows configuration changes into the shared schedule and enqueues due polls."""

    def __init__(
        self,
        *,
        database: Database,
        schedule: Schedule,
        enqueue: Enqueue,
        default_interval: int,
        housekeeping: Callable[[], None] | None = None,
        housekeeping_period: float = 600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._database = database
        self._schedule = schedule
        self._enqueue = enqueue
        self._default_interval = default_interval
        self._clock = clock
        self._housekeeping = housekeeping
        self._housekeeping_period = housekeeping_period
        self.lags: list[float] = []  # seconds from due to enqueued, since the last report
        self._reported = time.monotonic()

    def tick(self) -> list[int]:
        """One round: pick up configuration changes, then enqueue what is due. Returns ids."""
        now = self._clock()
        metrics.SCHEDULER_TICK.set_to_current_time()  # /healthz: a stuck loop stops setting it
        self._follow_configuration(now)
        claimed: list[tuple[int, float]] = []
        while True:
            batch = self._schedule.claim_due(now, CLAIM_BATCH)
            if batch:
                self._enqueue([account_id for account_id, _ in batch])
                claimed += batch
            if len(batch) < CLAIM_BATCH:
                break
        if claimed:
            enqueued = self._clock()
            lags = [max(0.0, enqueued - due) for _, due in claimed]
            self.lags += lags
            metrics.schedule_lags(lags)
            log.debug("enqueued polls for %d account(s)", len(claimed))
        if self._housekeeping and self._schedule.claim_housekeeping(self._housekeeping_period):
            self._housekeeping()
        return [account_id for account_id, _ in claimed]

    def _follow_configuration(self, now: float) -> None:
        default = self._default_interval
        with self._database.session() as session:
            version = changes.version(session)
            seen = self._schedule.seen()
            if seen == (version, default):
                return
            accounts, settings = (
                (set(), True) if seen is None or seen[1] != default
                else changes.changes_between(session, seen[0], version)
            )  # fmt: skip
            if settings:  # a first start, a lost Redis, another default: read everything
                planned = plan.planned(session, default)
                self._schedule.reconcile(planned, now)
                log.info("schedule reconciled: %d inbound account(s) enabled", len(planned))
            elif accounts:
                planned = plan.planned(session, default, accounts)
                changed = self._schedule.apply(planned, accounts, now)
                ledger.configuration_changed(session, changed, utcnow())
                if changed:
                    log.info("accounts %s changed: due now, their backoff is cleared", changed)
            self._schedule.mark_seen(version, default)
            changes.forget_before(session, version - KEEP_CHANGES)

    def wait_seconds(self, period: float) -> float:
        """How long to wait before the next tick: until the next poll is due, at most
        `period`, at least SHORTEST_WAIT."""
        upcoming = self._schedule.next_due()
        if upcoming is None:
            return period
        return max(SHORTEST_WAIT, min(period, upcoming - self._clock()))

    def report_lag(self) -> None:
        """Log how late polls were enqueued since the last report (p50, p99, max)."""
        if not self.lags:
            return
        lags = sorted(self.lags)
        elapsed = time.monotonic() - self._reported
        log.info(
            "scheduler: %d poll(s) enqueued in %.0f s, lag behind due time p50 %.0f ms, "
            "p99 %.0f ms, max %.0f ms",
            len(lags), elapsed, lags[len(lags) // 2] * 1000,
            lags[min(len(lags) - 1, int(len(lags) * 0.99))] * 1000, lags[-1] * 1000,
        )  # fmt: skip
        self.lags = []
        self._reported = time.monotonic()

    def run(self, stop: threading.Event, *, period: float = 1.0) -> None:
        """Tick until `stop` is set; a failing tick is logged and retried, never fatal."""
        log.info("scheduler started (tick at most every %.1fs)", period)
        while not stop.is_set():
            wait = period
            try:
                self.tick()
                wait = self.wait_seconds(period)
            except MailpollError as error:
                log.warning("scheduler tick failed: %s", error)
            except Exception:  # a database outage, a bug: log it and tick again, never die
                log.exception("scheduler tick failed unexpectedly")
            if time.monotonic() - self._reported >= LAG_REPORT_SECONDS:
                self.report_lag()
            stop.wait(wait)
        self.report_lag()
        log.info("scheduler stopped")
