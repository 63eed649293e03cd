"""Watching one account: connect, EXAMINE, IDLE until new mail, reconnect after failures.

A session runs as one asyncio task for as long as its watcher holds the account. It never
polls: on EXISTS it tells its watcher, which asks for a poll. After every (re)connect it hands
the folder's UIDVALIDITY and UIDNEXT over, so mail that arrived while nobody watched is asked
for too. IDLE is re-issued before the 30 minutes after which servers may end it (RFC 2177).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from shared.errors import AuthenticationError, MailpollError, PermanentError
from shared.mail.client import Credentials, Endpoint, FolderInfo
from watcher.imap_idle import IdleClient

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """An account to watch, as a value: where, which folder, and a stamp of its settings."""

    account_id: int
    name: str
    endpoint: Endpoint
    folder: str
    auth_type: str
    debug: bool
    version: str  # changes whenever the account is changed: the session starts over
    idle_poll_interval: float


@dataclass(frozen=True)
class Timing:
    """How long a session waits for what; tests shorten these."""

    reidle_seconds: float = 25 * 60  # servers may end an IDLE after 30 minutes
    backoff_first: float = 1.0  # doubles per failure in a row, with jitter
    backoff_max: float = 300.0
    permanent_wait: float = 15 * 60  # login refused, bad TLS, missing folder: as polls do
    no_idle_recheck: float = 60 * 60  # a server without IDLE is asked again this much later
    stable_seconds: float = 60.0  # a session this old that drops is retried at once


@dataclass(frozen=True)
class Callbacks:
    """What a session tells its watcher, and where it gets credentials (off the loop)."""

    credentials: Callable[[Target, bool], Awaitable[Credentials]]  # (target, fresh token)
    new_mail: Callable[[Target], None]
    connected: Callable[[Target, FolderInfo], Awaitable[None]]
    mode: Callable[[Target, str, str], None]  # (target, mode, detail)
    connect_slots: asyncio.Semaphore  # how many logins run at once


async def watch(target: Target, callbacks: Callbacks, timing: Timing) -> None:
    """Watch until cancelled; every failure is logged, shown as the mode, and retried."""
    failures = 0
    while True:
        try:
            async with callbacks.connect_slots:
                client = await _connect(target, callbacks)
        except MailpollError as error:
            failures += 1
            await _pause(target, callbacks, error, _delay(error, failures, timing))
            continue
        connected = asyncio.get_running_loop().time()
        try:
            if "IDLE" not in client.capabilities:
                callbacks.mode(target, "interval", "the server does not offer IDLE")
                log.info("%s: the server does not offer IDLE: interval polling", target.name)
                await client.logout()
                await asyncio.sleep(timing.no_idle_recheck)
                continue
            info = await client.examine(target.folder)
            callbacks.mode(target, "idle", "")
            log.info("%s: watching %s with IDLE", target.name, target.folder)
            await callbacks.connected(target, info)
            await _idle(client, target, callbacks, timing)
        except MailpollError as error:
            # A server that drops every session at once must not be reconnected at once for
            # ever: only a session that lasted counts as the end of a run of failures.
            if asyncio.get_running_loop().time() - connected > timing.stable_seconds:
                failures = 0
            failures += 1
            await _pause(target, callbacks, error, _delay(error, failures, timing))
        finally:
            client.close()


async def _connect(target: Target, callbacks: Callbacks) -> IdleClient:
    """Log in; an OAuth2 token refused once is refreshed and tried again, as the poll does."""
    credentials = await callbacks.credentials(target, False)
    try:
        return await _open(target, credentials)
    except AuthenticationError:
        if target.auth_type != "oauth2":
            raise
    return await _open(target, await callbacks.credentials(target, True))


async def _open(target: Target, credentials: Credentials) -> IdleClient:
    return await IdleClient.connect(
        target.endpoint, credentials, account=target.name, debug=target.debug
    )


async def _idle(client: IdleClient, target: Target, callbacks: Callbacks, timing: Timing) -> None:
    """IDLE, ended and begun again every `reidle_seconds`; EXISTS reported as it comes."""
    loop = asyncio.get_running_loop()
    while True:
        await client.idle()
        deadline = loop.time() + timing.reidle_seconds * random.uniform(0.9, 1.0)
        while (left := deadline - loop.time()) > 0:
            _report(await client.wait(left), target, callbacks)
        _report(await client.done(), target, callbacks)


def _report(said: list[tuple[str, int]], target: Target, callbacks: Callbacks) -> None:
    if any(kind == "EXISTS" for kind, _count in said):
        log.debug("%s: new mail announced by the server", target.name)
        callbacks.new_mail(target)


async def _pause(target: Target, callbacks: Callbacks, error: MailpollError, delay: float) -> None:
    callbacks.mode(target, "connecting", f"next try in {delay:.0f}s: {error}")
    log.warning("%s: watching stopped (%s); next try in %.1fs", target.name, error, delay)
    await asyncio.sleep(delay)


def _delay(error: MailpollError, failures: int, timing: Timing) -> float:
    """Seconds before the next try: 15 minutes after a permanent error, else exponential
    backoff with jitter (half to all of it), so thousands of sessions dropped by one server
    restart do not all come back in the same instant."""
    if isinstance(error, PermanentError):
        return timing.permanent_wait
    ceiling = min(timing.backoff_max, timing.backoff_first * 2.0 ** (failures - 1))
    return ceiling * random.uniform(0.5, 1.0)
