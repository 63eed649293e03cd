"""One poll of one inbound account, under its Redis lock: the logic behind the poll actor.

Plain functions with their collaborators as arguments (no Dramatiq here), so tests drive them
directly against a real or fake mailbox.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis

from shared.clock import Clock
from shared.db import ledger
from shared.db.database import Database
from shared.db.models import Account
from shared.errors import (
    AuthenticationError,
    ConfigError,
    ConnectError,
    FolderError,
    LockLostError,
    MailpollError,
    MessageError,
    PublishError,
    SecretError,
    ServerBusyError,
    ServerTimeoutError,
    StoreError,
    TLSError,
)
from shared.mail.client import INBOX, MailboxClient, MessageRef, Rejected, RemoteMessage
from shared.mail.parsing import InlineParser, Parser
from shared.properties import Properties
from shared.store import MessageStore
from workers import actions, failures
from workers.intake import Filters, Intake, Tally
from workers.lease import AccountLease

log = logging.getLogger(__name__)
DEFAULT_MAX_BATCH = 100
# After this many failed polls in a row, messages are fetched one at a time, and one whose
# fetch fails for itself (not the network) goes to the dead-letter list: it cannot block the
# account for ever.
CAREFUL_AFTER_FAILURES = 3
_NOT_THE_MESSAGE = (
    ConnectError, ServerTimeoutError, ServerBusyError, AuthenticationError, TLSError,
    LockLostError, PublishError, StoreError, FolderError, ConfigError, SecretError,
)  # fmt: skip
CHUNK_BYTES = 32 * 1024 * 1024
PROGRESS_SECONDS = 5.0  # a long poll says how far it is at least this often


@dataclass(frozen=True)
class PollDeps:
    """What a poll works with; built once per worker process."""

    database: Database
    redis: redis.Redis
    store: MessageStore
    publish: Callable[..., None]
    open_mailbox: Callable[[Account], MailboxClient]
    clock: Clock
    enqueue_next: Callable[[int], None]
    postpone: Callable[[int, float], None]
    lock_ttl: float = 60.0
    # Tells the error-reporting address (subject, body); see workers.failures.
    notify: Callable[[str, str], None] = lambda subject, body: None
    parser: Parser = field(default_factory=InlineParser)
    # Embedded mode: lock files here keep other processes on the data dir off an account.
    host_locks: Path | None = None


@dataclass
class PollResult:
    account: str
    outcome: str  # polled, busy, skipped, failed
    tally: Tally
    error: str | None = None


def poll_account(account_id: int, deps: PollDeps) -> PollResult:
    """Poll once; a failure is recorded on the account (with backoff), never raised."""
    with deps.database.session() as session:
        account = session.get(Account, account_id)
        floor = ledger.highest_fence(session, account_id)
    if account is None or account.type != "inbound":
        return PollResult(str(account_id), "skipped", Tally(), "no inbound account has this id")
    if not account.enabled:
        return PollResult(account.name, "skipped", Tally(), "the account is disabled")
    lease = AccountLease(
        deps.redis, account_id, ttl_seconds=deps.lock_ttl, host_locks=deps.host_locks
    )
    tally = Tally()
    try:
        busy = lease.take(floor=floor)
    except MailpollError as error:  # Redis is down: the account is not to blame, but say so
        failures.record_failure(account, error, deps)
        return PollResult(account.name, "failed", tally, str(error))
    if busy is not None:
        log.info("%s: %s; this poll ends", account.name, busy)
        return PollResult(account.name, "busy", tally, busy)
    started = time.monotonic()
    log.info("%s: poll started (lease fence %d)", account.name, lease.fence)
    try:
        with lease.renewed() as alive:
            _poll_locked(account, deps, lease.fence, alive, tally)
    except MailpollError as error:
        failures.record_failure(account, error, deps)
        return PollResult(account.name, "failed", tally, str(error))
    except Exception as error:  # a bug or a database outage: never die without a trace
        log.exception("%s: poll failed unexpectedly", account.name)
        failures.record_failure(account, MailpollError(f"unexpected: {error!r}"), deps)
        return PollResult(account.name, "failed", tally, repr(error))
    finally:
        log.info("%s: poll ended (lease fence %d)", account.name, lease.fence)
        lease.release()
    failures.record_success(account, tally, deps)
    log.info(
        "%s: %d announced, %d ignored, %d dead-lettered, %d server actions in %.2fs%s",
        account.name, tally.announced, tally.ignored, tally.dead, tally.acted,
        time.monotonic() - started, " (more waiting)" if tally.more_waiting else "",
    )  # fmt: skip
    if tally.more_waiting:
        _continue_soon(account, deps)
    return PollResult(account.name, "polled", tally)


def _continue_soon(account: Account, deps: PollDeps) -> None:
    """Ask for the next batch at once; if the broker is down, the schedule polls it later."""
    assert account.id is not None
    try:
        deps.enqueue_next(account.id)
    except Exception as error:  # dramatiq and redis raise their own: the poll itself is done
        log.warning(
            "%s: cannot ask for the next batch now (%s); the schedule polls it at its interval",
            account.name, error,
        )  # fmt: skip


def _poll_locked(
    account: Account, deps: PollDeps, fence: int, alive: Callable[[], bool], tally: Tally
) -> None:
    properties = Properties.of(account.properties, "inbound")
    deadline = time.monotonic() + properties.poll_budget_seconds
    assert account.id is not None
    with deps.database.session() as session:
        failures_so_far = ledger.status_of(session, account.id).consecutive_failures
    intake = Intake(
        account, deps.database, deps.store, deps.publish, deps.clock, fence, alive, tally,
        careful=failures_so_far >= CAREFUL_AFTER_FAILURES, parser=deps.parser,
    )  # fmt: skip
    with deps.open_mailbox(account) as client:
        # Intake first: a server action that fails (or one queued before a crash) must never
        # keep new mail out.
        if account.protocol == "pop3":
            _take_pop3(account, client, intake, properties, deadline)
        else:
            _replay_imap(account, client, intake)
            _take_imap(account, client, intake, properties, deadline)
        tally.acted += actions.run_due(account, client, deps.database, deps.clock)


def _take_imap(
    account: Account,
    client: MailboxClient,
    intake: Intake,
    properties: Properties,
    deadline: float,
) -> None:
    assert account.id is not None
    folder = account.folder or INBOX
    info = client.select(folder)
    with intake.database.session() as session:
        state = ledger.checkpoint(session, account.id, folder)
    changed = state is not None and state.uidvalidity != info.uidvalidity
    after = state.last_uid if state is not None and not changed else 0
    rescan_before = state.rescan_before_uid if state is not None else None
    if changed:
        rescan_before = info.uidnext or 2**63 - 1
        log.warning(
            "%s: %s UIDVALIDITY changed (%s -> %s): rescanning, announced mail is not repeated",
            account.name, folder, state.uidvalidity if state else None, info.uidvalidity,
        )  # fmt: skip
    known = None
    if rescan_before is not None:
        with intake.database.session() as session:
            known = ledger.announced_hashes(session, account.id, folder, info.uidvalidity)
    refs = _batch(account, intake, client.list_new(folder, after, limit=_limit(account) + 1))
    if intake.tally.more_waiting:
        intake.tally.waiting = client.count_new(folder, after) - len(refs)
    filters = Filters.of(account, intake.clock())
    for chunk in _chunks(refs, properties, deadline, intake):
        intake.take(
            _fetch(client, chunk, intake.careful), folder=folder, uidvalidity=info.uidvalidity,
            last_uid=max(r.uid or 0 for r in chunk), filters=filters, known_hashes=known,
            rescan_before_uid=rescan_before,
        )  # fmt: skip
    if not refs and (state is None or changed or rescan_before is not None):
        # Nothing new: record the folder's UIDVALIDITY, and that any rescan is over.
        intake.take(
            [], folder=folder, uidvalidity=info.uidvalidity, last_uid=after, filters=filters
        )


def _replay_imap(account: Account, client: MailboxClient, intake: Intake) -> None:
    """Fetch dead letters that were put back for another try; the checkpoint stays put."""
    assert account.id is not None
    with intake.database.session() as session:
        replays = ledger.replays(session, account.id)
        state = ledger.checkpoint(session, account.id, account.folder or INBOX)
    if not replays or state is None:
        return
    info = client.select(state.folder)
    current = [r for r in replays if r.folder == state.folder and r.uidvalidity == info.uidvalidity]
    refs = [MessageRef(r.folder, r.uid, r.uidvalidity, r.uidl) for r in current]
    intake.take(
        client.fetch(refs), folder=state.folder, uidvalidity=state.uidvalidity,
        last_uid=state.last_uid, filters=Filters(None),
    )  # fmt: skip
    with intake.database.session() as session:
        for replay in replays:
            row = session.get(type(replay), replay.id)
            if row is not None and not row.dead:
                session.delete(row)  # taken now, or gone from the server for good


def _take_pop3(
    account: Account,
    client: MailboxClient,
    intake: Intake,
    properties: Properties,
    deadline: float,
) -> None:
    assert account.id is not None
    with intake.database.session() as session:
        seen = ledger.seen_uidls(session, account.id)
    listed = client.list_new(INBOX)
    on_server = frozenset(r.uidl for r in listed if r.uidl is not None)
    new = [r for r in listed if r.uidl not in seen]
    refs = _batch(account, intake, new)
    intake.tally.waiting = len(new) - len(refs)
    filters = Filters.of(account, intake.clock())
    for chunk in _chunks(refs, properties, deadline, intake):
        intake.take(
            _fetch(client, chunk, intake.careful), folder=INBOX, uidvalidity=None, last_uid=0,
            filters=filters, server_uidls=on_server,
        )  # fmt: skip
    with intake.database.session() as session:
        ledger.forget_replayed_uidls(session, account.id)


def _limit(account: Account) -> int:
    return account.max_batch or DEFAULT_MAX_BATCH


def _batch(account: Account, intake: Intake, refs: list[MessageRef]) -> list[MessageRef]:
    """At most `max_batch` refs; notes whether more are waiting for an immediate next poll."""
    intake.tally.more_waiting = len(refs) > _limit(account)
    if intake.tally.more_waiting:
        intake.tally.oldest_waiting = refs[_limit(account)].internal_date
    return refs[: _limit(account)]


def _chunks(
    refs: list[MessageRef], properties: Properties, deadline: float, intake: Intake
) -> Iterator[list[MessageRef]]:
    """The batch in chunks of at most `fetch_chunk` messages and CHUNK_BYTES (one message may be
    larger, up to `max_message_mb`): what one worker thread holds in memory at once. Stops when
    the poll's time budget is spent. Logs progress every PROGRESS_SECONDS."""
    chunk: list[MessageRef] = []
    size = 0
    started = last_said = time.monotonic()
    for index, ref in enumerate(refs):
        if chunk and (len(chunk) >= properties.fetch_chunk or size + (ref.size or 0) > CHUNK_BYTES):
            yield chunk
            chunk, size = [], 0
            now = time.monotonic()
            if now - last_said >= PROGRESS_SECONDS:
                last_said = now
                log.info(
                    "%s: %d of %d message(s) taken in so far (%.0f/s)",
                    intake.account.name, index, len(refs), index / (now - started),
                )  # fmt: skip
            if now > deadline:
                intake.tally.more_waiting = True
                intake.tally.waiting += len(refs) - index
                intake.tally.oldest_waiting = ref.internal_date
                return
        chunk.append(ref)
        size += ref.size or 0
    if chunk:
        yield chunk


def _fetch(
    client: MailboxClient, refs: list[MessageRef], careful: bool
) -> Iterator[RemoteMessage | Rejected]:
    """The chunk's messages; when careful, one FETCH each, and a message whose own fetch fails
    comes out rejected (to the dead-letter list) instead of failing the poll again."""
    if not careful:
        yield from client.fetch(refs)
        return
    for ref in refs:
        try:
            yield from list(client.fetch([ref]))
        except _NOT_THE_MESSAGE:
            raise
        except MailpollError as error:
            yield Rejected(ref, MessageError(f"{ref}: fails every time: {error}"))
