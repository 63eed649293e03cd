"""Watchers in the test's process over the real Dovecot and Redis, with a stand-in worker.

The stand-in does what the poll actor does (clears the poll marker, then polls), in a thread
of its own, so a test sees the events a push leads to without a broker in between.
"""

from __future__ import annotations

import json
import logging
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import redis

from mailpoll.watching import build_watcher
from shared import poll_requests
from shared.schedule import Schedule
from shared.watch_leases import WatchMode, modes
from tests.support.dovecot import DovecotServer
from tests.support.pipeline import Pipeline
from tests.support.processes import MAILPOLL, environment
from watcher.loop import Watcher, WatcherOptions
from watcher.session import Timing
from workers.poll import poll_account

log = logging.getLogger(__name__)
# Quick to notice and to take over; re-IDLE as the product does unless a test says otherwise.
FAST = WatcherOptions(lease_seconds=2.0, scan_seconds=0.2, safety_seconds=0.5)


@dataclass
class Watching:
    pipeline: Pipeline
    redis: redis.Redis
    redis_url: str
    run_polls: bool = True
    requested: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._polls = ThreadPoolExecutor(2, thread_name_prefix="stand-in-worker")

    def enqueue(self, account_id: int) -> None:
        """The broker: record the request, and run the poll as a worker would."""
        self.requested.append(account_id)
        if self.run_polls:
            self._polls.submit(self._poll, account_id)

    def _poll(self, account_id: int) -> None:
        poll_requests.taken(self.redis, account_id)
        result = poll_account(account_id, self.pipeline.deps())
        log.info("stand-in worker polled %s: %s", account_id, result.outcome)

    def build(self, options: WatcherOptions = FAST) -> Watcher:
        return build_watcher(
            self.pipeline.database,
            self.pipeline.credentials,
            self.redis,
            self.enqueue,
            Schedule(self.redis),
            options,
        )

    @contextmanager
    def running(self, options: WatcherOptions = FAST) -> Iterator[Watcher]:
        watcher = self.build(options)
        stop = threading.Event()
        thread = threading.Thread(target=watcher.run, args=(stop,), daemon=True)
        thread.start()
        try:
            yield watcher
        finally:
            stop.set()
            thread.join(30)
            assert not thread.is_alive(), "the watcher did not stop"

    def mode(self, account_id: int) -> WatchMode | None:
        return modes(self.redis, [account_id]).get(account_id)

    def status(self) -> dict[str, dict[str, Any]]:
        """`mailpoll status --json` on this pipeline's database and Redis, by account."""
        env = environment(database_url=self.pipeline.database.url, redis_url=self.redis_url)
        done = subprocess.run(
            [*MAILPOLL, "status", "--json"], env=env, capture_output=True, text=True, timeout=60,
            check=True,
        )  # fmt: skip
        return {row["account"]: row for row in json.loads(done.stdout)}

    def subjects(self) -> list[str]:
        return [str(e["data"]["subject"]) for e in self.pipeline.events()]

    def close(self) -> None:
        self._polls.shutdown(wait=True)


def timing(**changes: Any) -> WatcherOptions:
    """FAST with some session timings changed."""
    return WatcherOptions(
        lease_seconds=FAST.lease_seconds,
        scan_seconds=FAST.scan_seconds,
        safety_seconds=FAST.safety_seconds,
        timing=Timing(**changes),
    )


def message(subject: str) -> bytes:
    return (
        f"From: a@example.com\r\nTo: b@example.com\r\nSubject: {subject}\r\n\r\nbody\r\n".encode()
    )


def connections(server: DovecotServer, users: list[str]) -> Counter[str]:
    """IMAP connections per user (of these) that the server has open now (doveadm who)."""
    listing = subprocess.run(
        ["doveadm", "-c", str(server.config_file), "who", "-1"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    words = [line.split() for line in listing.splitlines()[1:]]
    return Counter(w[0] for w in words if len(w) > 1 and w[0] in users and w[1] == "imap")
