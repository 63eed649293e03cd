"""One poll of one inbound account, under its Redis lock: the logic behind the poll actor.

Plain functions with their collaborators as arguments (no Dramatiq here), so tests drive them
directly against a real or fake mailbox.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
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
from shared.mail.parse_pool import InlineParser, Parser
from shared.store import MessageStore
from workers import failures, server_actions
from workers.account import InboundAccount
from workers.intake import Filters, FolderCursor, Intake, Tally
from workers.lease import Hold, hold

log = logging.getLogger(__name__)
# After this many failed polls in a row, messages are fetched one at a time, and one whose
# fetch fails for itself (not the network) goes to the dead-letter list: it cannot block the
# account for ever.
CAREFUL_AFTER_FAILURES = 3
_NOT_THE_MESSAGE = (
    ConnectError, ServerTimeoutError, ServerBusyError, AuthenticationError, TLSError,
    LockLostError, PublishError, StoreError, FolderError, ConfigError, SecretError,
)  # fmt: skip
CHUNK_BYTES = 32 * 1024 * 1024
Enough = Callable[[], bool]
PROGRESS_SECONDS = 5.0  # a long poll says how far it is at least this often


@dataclass(frozen=True)
class PollDeps:
    """What a poll works with; built once per worker process."""

    database: Database
    redis: redis.Redis
    store: MessageStore
    publish: Callable[..., None]
    open_mailbox: Callable[[InboundAccount], MailboxClient]
    clock: Clock
    enqueue_next: Callable[[int], None]
    postpone: Callable[[int, float], None]
    lock_ttl: float = 15.0
    # Tells the error-reporting address (subject, body); see workers.failures.
    notify: Callable[[str, str], None] = lambda subject, body: None
    parser: Parser = field(default_factory=InlineParser)
    # Embedded mode: lock files here keep other processes on the data dir off an account.
    host_locks: Path | None = None
    # True once the worker is stopping (SIGTERM): a poll hands over after its current chunk.
    stopping: Callable[[], bool] = lambda: False


@dataclass(frozen=True)
class PollResult:
    account: str
    outcome: str  # polled, busy, skipped, failed
    tally: Tally
    error: str | None = None


def poll_account(account_id: int, deps: PollDeps) -> PollResult:
    """Poll once; a failure is recorded on the account (with backoff), never raised."""
    with deps.database.session() as session:
        row = session.get(Account, account_id)
        floor = ledger.highest_fence(session, account_id)
        failed_before = ledger.status_of(session, account_id).consecutive_failures if row else 0
    if row is None or row.type != "inbound":
        return PollResult(str(account_id), "skipped", Tally(), "no inbound account has this id")
    if not row.enabled:
        return PollResult(row.name, "skipped", Tally(), "the account is disabled")
    account = InboundAccount.of(row)
    started = time.monotonic()
    lease = hold(
        deps.redis, account.id, ttl_seconds=deps.lock_ttl, floor=floor, host_locks=deps.host_locks
    )
    try:
        with lease as held:
            if held.busy is not None:
                log.info("%s: %s; this poll ends", account.name, held.busy)
                return PollResult(account.name, "busy", Tally(), held.busy)
            log.info("%s: poll started (lease fence %d)", account.name, held.fence)
            try:
                careful = failed_before >= CAREFUL_AFTER_FAILURES
                tally = _poll_locked(account, deps, held, careful)
            finally:
                log.info("%s: poll ended (lease fence %d)", account.name, held.fence)
    except MailpollError as error:  # Redis down while taking the lease: say so too
        failures.record_failure(account, error, deps)
        return PollResult(account.name, "failed", Tally(), str(error))
    except Exception as error:  # a bug or a database outage: never die without a trace
        log.exception("%s: poll failed unexpectedly", account.name)
        failures.record_failure(account, MailpollError(f"unexpected: {error!r}"), deps)
        return PollResult(account.name, "failed", Tally(), repr(error))
    failures.record_success(account, tally, deps)
    log.info(
        "%s: %d announced, %d ignored, %d dead-lettered, %d server actions in %.2fs%s",
        account.name, tally.announced, tally.ignored, tally.dead, tally.acted,
        time.monotonic() - started, " (more waiting)" if tally.more_waiting else "",
    )  # fmt: skip
    if tally.more_waiting:
        _continue_soon(account, deps)
    return PollResult(account.name, "polled", tally)


def _continue_soon(account: InboundAccount, deps: PollDeps) -> None:
    """Ask for the next batch at once; if the broker is down, the schedule polls it later."""
    try:
        deps.enqueue_next(account.id)
    except Exception as error:  # dramatiq and redis raise their own: the poll itself is done
        log.warning(
            "%s: cannot ask for the next batch now (%s); the schedule polls it at its interval",
            account.name, error,
        )  # fmt: skip


def _poll_locked(account: InboundAccount, deps: PollDeps, held: Hold, careful: bool) -> Tally:
    deadline = time.monotonic() + account.properties.poll_budget_seconds

    def enough() -> bool:
        """The time budget is spent, or the worker is stopping: hand over after this chunk."""
        return time.monotonic() > deadline or deps.stopping()

    intake = Intake(
        account, deps.database, deps.store, deps.publish, deps.clock, held.fence, held.alive,
        careful=careful, parser=deps.parser,
    )  # fmt: skip
    with deps.open_mailbox(account) as client:
        # Intake first: a server action that fails (or one queued before a crash) must never
        # keep new mail out.
        if account.protocol == "pop3":
            tally = _take_pop3(client, intake, enough)
        else:
            tally = _replay_imap(client, intake) + _take_imap(client, intake, enough)
        return tally + Tally(
            acted=server_actions.run_due(account, client, deps.database, deps.clock)
        )


def _take_imap(client: MailboxClient, intake: Intake, enough: Enough) -> Tally:
    account = intake.account
    info = client.select(account.folder)
    with intake.database.session() as session:
        state = ledger.checkpoint(session, account.id, account.folder)
    cursor = FolderCursor(account.folder, info.uidvalidity, 0)
    if state is not None and state.uidvalidity == info.uidvalidity:
        cursor = FolderCursor(account.folder, info.uidvalidity, state.last_uid,
                              state.rescan_before_uid)  # fmt: skip
    elif state is not None:
        cursor = FolderCursor(account.folder, info.uidvalidity, 0, info.uidnext or 2**63 - 1)
        log.warning(
            "%s: %s UIDVALIDITY changed (%s -> %s): rescanning, announced mail is not repeated",
            account.name, account.folder, state.uidvalidity, info.uidvalidity,
        )  # fmt: skip
    if cursor.rescan_before_uid is not None:
        with intake.database.session() as session:
            known = ledger.announced_hashes(session, account.id, account.folder, info.uidvalidity)
        cursor = dataclasses.replace(cursor, known_hashes=frozenset(known))
    listed = client.list_new(account.folder, cursor.last_uid, limit=account.max_batch + 1)
    refs, tally = _batch(account, listed)
    if tally.more_waiting:
        tally = dataclasses.replace(
            tally, waiting=client.count_new(account.folder, cursor.last_uid) - len(refs)
        )
    filters = Filters.of(account, intake.clock())
    with contextlib.closing(_fetched(client, refs, intake, enough)) as chunks:
        for chunk in chunks:
            if isinstance(chunk, Tally):  # the time budget is spent
                tally += chunk
                break
            cursor, taken = intake.take(chunk, cursor, filters)
            tally += taken
    if not refs and (state is None or cursor.rescan_before_uid is not None):
        # Nothing new: record the folder's UIDVALIDITY, and that any rescan is over.
        intake.take([], dataclasses.replace(cursor, rescan_before_uid=None), filters)
    return tally


def _replay_imap(client: MailboxClient, intake: Intake) -> Tally:
    """Fetch dead letters that were put back for another try; the checkpoint stays put."""
    account = intake.account
    with intake.database.session() as session:
        replays = ledger.replays(session, account.id)
        state = ledger.checkpoint(session, account.id, account.folder)
    if not replays or state is None:
        return Tally()
    info = client.select(state.folder)
    current = [r for r in replays if r.folder == state.folder and r.uidvalidity == info.uidvalidity]
    refs = [MessageRef(r.folder, r.uid, r.uidvalidity, r.uidl) for r in current]
    cursor = FolderCursor(state.folder, state.uidvalidity, state.last_uid)
    _, tally = intake.take(client.fetch(refs), cursor, Filters(None))
    with intake.database.session() as session:
        ledger.forget_replays(session, [replay.id for replay in replays if replay.id is not None])
    return tally


def _take_pop3(client: MailboxClient, intake: Intake, enough: Enough) -> Tally:
    account = intake.account
    with intake.database.session() as session:
        seen = ledger.seen_uidls(session, account.id)
    listed = client.list_new(INBOX)
    on_server = frozenset(r.uidl for r in listed if r.uidl is not None)
    new = [r for r in listed if r.uidl not in seen]
    refs, tally = _batch(account, new)
    tally = dataclasses.replace(tally, waiting=len(new) - len(refs))
    filters = Filters.of(account, intake.clock())
    cursor = FolderCursor(INBOX, None, 0)
    with contextlib.closing(_fetched(client, refs, intake, enough)) as chunks:
        for chunk in chunks:
            if isinstance(chunk, Tally):
                tally += chunk
                break
            _, taken = intake.take(chunk, cursor, filters, server_uidls=on_server)
            tally += taken
    with intake.database.session() as session:
        ledger.forget_replayed_uidls(session, account.id)
    return tally


def _batch(account: InboundAccount, refs: list[MessageRef]) -> tuple[list[MessageRef], Tally]:
    """At most `max_batch` refs; says whether more are waiting for an immediate next poll."""
    if len(refs) <= account.max_batch:
        return refs, Tally()
    waiting = Tally(more_waiting=True, oldest_waiting=refs[account.max_batch].internal_date)
    return refs[: account.max_batch], waiting


def _chunks(
    refs: list[MessageRef], intake: Intake, enough: Enough
) -> Iterator[list[MessageRef] | Tally]:
    """The batch in chunks of at most `fetch_chunk` messages and CHUNK_BYTES (one message may be
    larger, up to `max_message_mb`): what one worker thread holds in memory at once. When the
    poll has had `enough` (its time budget is spent, or the worker is stopping), the last item
    is the Tally of what is left waiting, for an immediate next poll. Logs progress every
    PROGRESS_SECONDS."""
    properties = intake.account.properties
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
            if enough():
                yield Tally(more_waiting=True, waiting=len(refs) - index,
                            oldest_waiting=ref.internal_date)  # fmt: skip
                return
        chunk.append(ref)
        size += ref.size or 0
    if chunk:
        yield chunk


def _fetched(
    client: MailboxClient, refs: list[MessageRef], intake: Intake, enough: Enough
) -> Generator[list[RemoteMessage | Rejected] | Tally, None, None]:
    """The chunks' messages, the next chunk downloaded (by one helper thread) while the
    caller stores and announces this one: the server's work and the network overlap the
    worker's. Only that thread talks to the server until the generator is closed, and closing
    it waits for the download in flight. At most two chunks are in memory."""
    with ThreadPoolExecutor(1, thread_name_prefix=f"fetch-{intake.account.id}") as pool:
        ahead: Future[list[RemoteMessage | Rejected]] | None = None
        for chunk in _chunks(refs, intake, enough):
            if isinstance(chunk, Tally):
                if ahead is not None:
                    yield ahead.result()
                    ahead = None
                yield chunk
                return
            following = pool.submit(_fetch_all, client, chunk, intake.careful)
            if ahead is not None:
                yield ahead.result()
            ahead = following
        if ahead is not None:
            yield ahead.result()


def _fetch_all(
    client: MailboxClient, refs: list[MessageRef], careful: bool
) -> list[RemoteMessage | Rejected]:
    return list(_fetch(client, refs, careful))


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
