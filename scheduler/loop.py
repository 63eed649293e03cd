"""The scheduler process: each tick, enqueue a poll for every account that is due."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from scheduler import plan
from shared.clock import utcnow
from shared.db import ledger
from shared.db.database import Database
from shared.errors import MailpollError
from shared.schedule import Schedule

log = logging.getLogger(__name__)
Enqueue = Callable[[int], None]


class Scheduler:
    """Reconciles the shared schedule with the configuration and enqueues due polls."""

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

    def tick(self) -> list[int]:
        """One round: pick up configuration changes, then enqueue what is due. Returns ids."""
        now = self._clock()
        with self._database.session() as session:
            current = plan.fingerprint(session, self._default_interval)
            if current != self._schedule.fingerprint():
                planned = plan.planned(session, self._default_interval)
                changed = self._schedule.reconcile(planned, now, current)
                ledger.configuration_changed(session, changed, utcnow())
                log.info("schedule reconciled: %d inbound account(s) enabled", len(planned))
                if changed:
                    log.info("accounts %s changed: due now, their backoff is cleared", changed)
        due = self._schedule.claim_due(now)
        for account_id in due:
            self._enqueue(account_id)
        if due:
            log.debug("enqueued polls for accounts %s", due)
        if self._housekeeping and self._schedule.claim_housekeeping(self._housekeeping_period):
            self._housekeeping()
        return due

    def run(self, stop: threading.Event, *, period: float = 1.0) -> None:
        """Tick until `stop` is set; a failing tick is logged and retried, never fatal."""
        log.info("scheduler started (tick every %.1fs)", period)
        while not stop.is_set():
            try:
                self.tick()
            except MailpollError as error:
                log.warning("scheduler tick failed: %s", error)
            except Exception:  # a database outage, a bug: log it and tick again, never die
                log.exception("scheduler tick failed unexpectedly")
            stop.wait(period)
        log.info("scheduler stopped")
