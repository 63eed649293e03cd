"""Interval polling as a safety net for accounts that IDLE watches: at a longer interval.

The schedule polls every account at its `polling_interval`. While IDLE works for an account,
its next scheduled poll is pushed out to `idle_poll_interval` after its last poll; as soon as
IDLE stops working (the server lacks it, the connection is down, no watcher holds the
account) nothing pushes any more and the schedule polls at `polling_interval` again. A
poll already due now (a changed account) is never pushed away.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from shared.db.database import Database
from watcher import accounts

log = logging.getLogger(__name__)


class SafetyNet:
    """`stretch` does the pushing; the schedule's reading and pushing are handed in."""

    def __init__(
        self,
        database: Database,
        *,
        due_times: Callable[[], Mapping[int, float]],
        postpone: Callable[[int, float], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._database = database
        self._due_times = due_times
        self._postpone = postpone
        self._clock = clock

    def stretch(self, intervals: Mapping[int, float]) -> list[int]:
        """Push each account's next poll to its last poll plus its interval (account id ->
        seconds), never earlier than scheduled; returns the ids pushed."""
        due = self._due_times()
        with self._database.session() as session:
            polled = accounts.last_polls(session, sorted(intervals))
        now = self._clock()
        pushed = []
        for account_id, interval in intervals.items():
            scheduled, last = due.get(account_id), polled.get(account_id)
            if scheduled is None or last is None or scheduled <= now:
                continue
            until = last.timestamp() + interval
            if until > scheduled:
                self._postpone(account_id, until)
                pushed.append(account_id)
        if pushed:
            log.debug("IDLE works: next interval polls of %s pushed out", pushed)
        return pushed
