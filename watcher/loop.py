"""The watcher process: picks its share of the push accounts and runs a session for each.

Every second it heartbeats, re-reads the push accounts when the configuration changed, and
claims (or hands over) accounts so that each is watched by exactly one live watcher. Leases
are renewed in batches; a lease it loses ends that session at once, and if it cannot renew
for a whole lease time it stops every session (another watcher may hold them by then).
Redis and database calls run in threads, off the event loop that holds the connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from shared.db.database import Database
from shared.errors import AuthenticationError, MailpollError
from shared.mail.client import Credentials, FolderInfo
from shared.poll_requests import PollRequests
from shared.watch_leases import WatchLeases, WatchMode
from watcher import accounts, assign
from watcher.safety import SafetyNet
from watcher.session import Callbacks, Target, Timing, watch

log = logging.getLogger(__name__)
T = TypeVar("T")
#: The credentials to log in with, resolved now: (account id, refresh the OAuth2 token).
CredentialsOf = Callable[[int, bool], Credentials | None]


@dataclass(frozen=True)
class WatcherDeps:
    """What a watcher works with, handed in by the composition root."""

    database: Database
    leases: WatchLeases
    requests: PollRequests
    credentials: CredentialsOf
    safety: SafetyNet


@dataclass(frozen=True)
class WatcherOptions:
    lease_seconds: float = 10.0  # a dead watcher's accounts are free this long after it died
    scan_seconds: float = 1.0  # how often configuration and live watchers are looked at
    rescan_seconds: float = 60.0  # a full re-read even when the configuration looks unchanged
    safety_seconds: float = 30.0
    retry_seconds: float = 0.5  # a poll asked for while one runs is asked again this much later
    max_logins: int = 50  # logins at once: a restart of thousands does not storm the server
    timing: Timing = field(default_factory=Timing)


def new_watcher_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(2)}"


class Watcher:
    """One watcher replica. `run(stop)` blocks until `stop` is set, then lets go of everything."""

    def __init__(self, deps: WatcherDeps, options: WatcherOptions | None = None) -> None:
        self.deps = deps
        self.options = options or WatcherOptions()
        self.id = deps.leases.watcher_id
        self._targets: dict[int, Target] = {}
        self._sessions: dict[int, tuple[Target, asyncio.Task[None]]] = {}
        self._modes: dict[int, str] = {}
        self._pending: set[int] = set()
        self._fingerprint: str | None = None
        self._loaded_at = 0.0
        self._renewed_at = time.monotonic()
        self.beat: float | None = None  # when the event loop last went round (Unix time)
        self._background: set[asyncio.Future[Any]] = set()
        # Leases and poll requests get threads of their own: logins never delay a renewal.
        self._control = ThreadPoolExecutor(2, thread_name_prefix="watcher-control")

    def run(self, stop: threading.Event) -> None:
        asyncio.run(self._main(stop))

    @property
    def watched(self) -> list[int]:
        """The accounts this watcher holds now."""
        return sorted(self._sessions.copy())  # read from other threads too

    async def _main(self, stop: threading.Event) -> None:
        log.info("watcher %s started", self.id)
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(self.options.max_logins)
        loops = [
            asyncio.create_task(self._every(self.options.scan_seconds, self._scan)),
            asyncio.create_task(self._every(self.options.lease_seconds / 3, self._renew)),
            asyncio.create_task(self._every(self.options.safety_seconds, self._safety)),
            asyncio.create_task(self._requests()),
        ]
        try:
            while not stop.is_set():
                self.beat = time.time()  # /healthz: a blocked loop stops setting it
                await asyncio.sleep(0.1)
        finally:
            for task in loops:
                task.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
            await self._let_go(list(self._sessions))
            with contextlib.suppress(MailpollError):
                await self._in_control(self.deps.leases.leave)
            self._control.shutdown(wait=False)
            log.info("watcher %s stopped", self.id)

    async def _every(self, period: float, step: Callable[[], Awaitable[None]]) -> None:
        while True:
            try:
                await step()
            except MailpollError as error:
                log.warning("watcher %s: %s", self.id, error)
            except Exception:  # a database outage, a bug: log it and go on
                log.exception("watcher %s: unexpected failure", self.id)
            await asyncio.sleep(period)

    # -- which accounts ----------------------------------------------------------------------

    async def _scan(self) -> None:
        live = await self._in_control(self.deps.leases.heartbeat)
        await self._load()
        wanted = assign.mine(self._targets, live, self.id)
        gone = [i for i, (target, _) in self._sessions.items()
                if i not in wanted or self._targets.get(i) != target]  # fmt: skip
        if gone:  # removed, disabled, push off, changed, or another watcher's share now
            await self._let_go(gone)
        claim = sorted(i for i in wanted if i not in self._sessions)
        if claim:
            for account_id in await self._in_control(self.deps.leases.claim, claim):
                self._start(self._targets[account_id])

    async def _load(self) -> None:
        database = self.deps.database
        stamp = await asyncio.to_thread(_read, database, accounts.fingerprint)
        if stamp == self._fingerprint and time.monotonic() - self._loaded_at < (
            self.options.rescan_seconds
        ):
            return
        self._targets = await asyncio.to_thread(_read, database, accounts.push_accounts)
        self._fingerprint, self._loaded_at = stamp, time.monotonic()

    async def _renew(self) -> None:
        held = list(self._sessions)
        try:
            lost = await self._in_control(self.deps.leases.renew, held)
        except MailpollError:
            if time.monotonic() - self._renewed_at > self.options.lease_seconds:
                log.error("watcher %s: leases not renewed in time: stopping all", self.id)
                await self._let_go(list(self._sessions), release=False)
            raise
        self._renewed_at = time.monotonic()
        if lost:
            log.warning("watcher %s: lost the leases of accounts %s", self.id, lost)
            await self._let_go(lost, release=False)

    def _start(self, target: Target) -> None:
        callbacks = Callbacks(
            credentials=self._credentials,
            new_mail=lambda t: self._ask(t.account_id),
            connected=self._connected,
            mode=self._mode,
            connect_slots=self._slots,
        )
        task = asyncio.create_task(watch(target, callbacks, self.options.timing))
        self._sessions[target.account_id] = (target, task)

    async def _let_go(self, account_ids: Sequence[int], *, release: bool = True) -> None:
        """End these sessions (their connections close), then give their leases back."""
        tasks = [self._sessions.pop(i)[1] for i in account_ids if i in self._sessions]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for account_id in account_ids:
            self._modes.pop(account_id, None)
            self._pending.discard(account_id)
        if release and account_ids:
            with contextlib.suppress(MailpollError):  # they expire by themselves
                await self._in_control(self.deps.leases.release, list(account_ids))

    # -- what sessions report ----------------------------------------------------------------

    async def _credentials(self, target: Target, fresh: bool) -> Credentials:
        found = await asyncio.to_thread(self.deps.credentials, target.account_id, fresh)
        if found is None:
            raise AuthenticationError(f"{target.name}: no credentials to log in with")
        return found

    async def _connected(self, target: Target, info: FolderInfo) -> None:
        """Mail that came while nobody watched: ask for a poll if the checkpoint is behind."""
        database = self.deps.database
        if await asyncio.to_thread(_read, database, accounts.behind, target, info):
            self._ask(target.account_id)

    def _mode(self, target: Target, mode: str, detail: str) -> None:
        self._modes[target.account_id] = mode
        record = WatchMode(mode, detail, self.id, time.time())
        self._detach(self._in_control(self.deps.leases.record, target.account_id, record))

    def _ask(self, account_id: int) -> None:
        if account_id in self._sessions:
            self._pending.add(account_id)
            self._wake.set()

    async def _requests(self) -> None:
        """Ask for the polls sessions want, a batch at a time; again later when one runs."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, set()
            again = await self._in_control(self._request_all, sorted(batch))
            if again:
                asyncio.get_running_loop().call_later(
                    self.options.retry_seconds, self._ask_again, again
                )

    def _ask_again(self, account_ids: list[int]) -> None:
        for account_id in account_ids:
            self._ask(account_id)

    def _request_all(self, account_ids: list[int]) -> list[int]:
        """(In a thread.) Returns the accounts to ask again for: a poll runs, or it failed."""
        again = []
        for account_id in account_ids:
            try:
                outcome = self.deps.requests.request(account_id)
            except Exception as error:  # Redis or the broker: try again shortly
                log.warning("account %s: cannot ask for a poll now: %s", account_id, error)
                outcome = "polling"
            if outcome == "polling":
                again.append(account_id)
            else:
                log.debug("account %s: poll %s", account_id, outcome)
        return again

    async def _safety(self) -> None:
        idle = {
            i: self._sessions[i][0].idle_poll_interval
            for i, mode in self._modes.items()
            if mode == "idle" and i in self._sessions
        }
        if idle:
            await self._in_control(self.deps.safety.stretch, idle)

    # -- threads -----------------------------------------------------------------------------

    async def _in_control(self, call: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._control, call, *args)

    def _detach(self, work: Awaitable[Any]) -> None:
        future = asyncio.ensure_future(work)
        self._background.add(future)
        future.add_done_callback(self._finished)

    def _finished(self, future: asyncio.Future[Any]) -> None:
        self._background.discard(future)
        if not future.cancelled() and future.exception() is not None:
            log.warning("watcher %s: cannot record a mode: %s", self.id, future.exception())


def _read(database: Database, query: Callable[..., T], *args: Any) -> T:
    with database.session() as session:
        return query(session, *args)
