"""The poll pipeline's durable state: folder checkpoints, the received-message ledger, status.

A batch is recorded in one transaction together with its folder's new high-water mark, and
only when the writer's fencing token is not older than the last writer's: a worker that lost
its lock while paused cannot move a newer checkpoint backwards.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from shared.db.models import (
    AccountStatus,
    DeadLetter,
    FolderState,
    IgnoredMessage,
    ReceivedMessage,
)
from shared.errors import LockLostError
from shared.mail.client import MessageRef


def highest_fence(session: Session, account_id: int) -> int:
    """The highest lease fence any checkpoint of the account was written with: new leases
    must be above it, even when Redis has lost its counters."""
    query = select(sa.func.max(FolderState.fence)).where(FolderState.account_id == account_id)
    return int(session.exec(query).one() or 0)


def checkpoint(session: Session, account_id: int, folder: str) -> FolderState | None:
    query = select(FolderState).where(
        FolderState.account_id == account_id, FolderState.folder == folder
    )
    return session.exec(query).first()


def seen_uidls(session: Session, account_id: int) -> set[str]:
    """Every UIDL announced or ignored: what POP3, which has no cursor, must not take again."""
    received = select(ReceivedMessage.uidl).where(
        ReceivedMessage.account_id == account_id, col(ReceivedMessage.uidl).is_not(None)
    )
    ignored = select(IgnoredMessage.uidl).where(IgnoredMessage.account_id == account_id)
    dead = select(DeadLetter.uidl).where(
        DeadLetter.account_id == account_id, col(DeadLetter.dead).is_(sa.true())
    )
    uidls = set(session.exec(received)) | set(session.exec(ignored)) | set(session.exec(dead))
    return {uidl for uidl in uidls if uidl}


def announced_hashes(
    session: Session, account_id: int, folder: str, uidvalidity: int | None
) -> set[str]:
    """The SHA-256 of what a folder announced under other UIDVALIDITYs: after a change the
    same mail comes back under new UIDs, and must not be announced again."""
    query = select(ReceivedMessage.sha256).where(
        ReceivedMessage.account_id == account_id,
        ReceivedMessage.folder == folder,
        ReceivedMessage.uidvalidity != uidvalidity,
    )
    return set(session.exec(query))


def announced_by_content(
    session: Session, account_id: int, hashes: set[str]
) -> dict[str, tuple[int, str | None]]:
    """SHA-256 -> (ledger row id, UIDL) of the account's POP3 messages with these contents."""
    if not hashes:
        return {}
    query = select(ReceivedMessage.sha256, ReceivedMessage.id, ReceivedMessage.uidl).where(
        ReceivedMessage.account_id == account_id,
        col(ReceivedMessage.uidl).is_not(None),
        col(ReceivedMessage.sha256).in_(hashes),
    )
    return {sha256: (row_id, uidl) for sha256, row_id, uidl in session.exec(query) if row_id}


def dead_letter_of(session: Session, account_id: int, ref: MessageRef) -> DeadLetter | None:
    query = select(DeadLetter).where(
        DeadLetter.account_id == account_id,
        DeadLetter.folder == ref.folder,
        DeadLetter.uidvalidity == ref.uidvalidity,
        DeadLetter.uid == ref.uid,
        DeadLetter.uidl == ref.uidl,
    )
    return session.exec(query).first()


def replays(session: Session, account_id: int) -> list[DeadLetter]:
    """Dead letters someone asked to try again (`mailpoll dead-letters replay`)."""
    query = select(DeadLetter).where(
        DeadLetter.account_id == account_id, col(DeadLetter.dead).is_(sa.false())
    )
    return list(session.exec(query))


def forget_replays(session: Session, ids: Sequence[int]) -> None:
    """Drop replayed dead letters that were taken now (or are gone from the server for
    good); one that failed again is a dead letter again and stays."""
    if ids:
        session.execute(
            sa.delete(DeadLetter).where(
                col(DeadLetter.id).in_(ids), col(DeadLetter.dead).is_(sa.false())
            )
        )


def forget_replayed_uidls(session: Session, account_id: int) -> None:
    """Drop replayed POP3 dead letters whose message is in the ledger now."""
    taken = select(ReceivedMessage.uidl).where(ReceivedMessage.account_id == account_id)
    session.execute(
        sa.delete(DeadLetter).where(
            col(DeadLetter.account_id) == account_id,
            col(DeadLetter.dead).is_(sa.false()),
            col(DeadLetter.uidl).in_(taken),
        )
    )


def accounts_with_due_actions(session: Session, now: datetime) -> list[int]:
    query = (
        select(ReceivedMessage.account_id)
        .where(
            col(ReceivedMessage.server_action).is_not(None),
            col(ReceivedMessage.server_action_done_at).is_(None),
            col(ReceivedMessage.server_action_due_at) <= now,
        )
        .distinct()
    )
    return list(session.exec(query))


def record_batch(
    session: Session,
    *,
    account_id: int,
    folder: str,
    uidvalidity: int | None,
    last_uid: int,
    fence: int,
    rescan_before_uid: int | None = None,
    received: Sequence[Mapping[str, Any]],
    ignored: Iterable[Mapping[str, Any]] = (),
    relabel: Sequence[tuple[int, str]] = (),
    dead: Sequence[tuple[MessageRef, str]] = (),
    now: datetime,
) -> None:
    """Add the batch to the ledger and move the checkpoint, in the caller's transaction.

    `received` are ledger rows (the columns of ReceivedMessage), inserted in one statement;
    rows that are there already (a batch repeated after a crash) are kept as they were.
    `ignored` are UIDLs (with the reason) that POP3 must not take again. `relabel` gives
    announced POP3 messages the new UIDL the server shows them under. `dead` are messages
    set aside as dead letters, with the error (a replayed one that failed again counts a
    try).
    """
    _advance(session, account_id, folder, uidvalidity, last_uid, fence, rescan_before_uid, now)
    for row_id, uidl in relabel:
        session.execute(
            sa.update(ReceivedMessage).where(col(ReceivedMessage.id) == row_id).values(uidl=uidl)
        )
    known = _known_event_ids(session, [row["event_id"] for row in received])
    fresh = [
        {"server_action_attempts": 0, **row} for row in received if row["event_id"] not in known
    ]
    if fresh:  # Core, not the ORM's bulk insert: a chunk's rows need no unit of work
        session.connection().execute(sa.insert(ReceivedMessage.__table__), fresh)  # type: ignore[attr-defined]
    for skip in ignored:
        session.add(IgnoredMessage(account_id=account_id, at=now, **skip))
    for ref, error in dead:
        _dead_letter(session, account_id, ref, error, now)
    session.flush()


def _dead_letter(
    session: Session, account_id: int, ref: MessageRef, error: str, now: datetime
) -> None:
    known = dead_letter_of(session, account_id, ref)
    if known is not None:  # a replay that failed again
        known.dead, known.error, known.last_failed_at = True, error, now
        known.attempts += 1
        return
    session.add(
        DeadLetter(
            account_id=account_id,
            folder=ref.folder,
            uidvalidity=ref.uidvalidity,
            uid=ref.uid,
            uidl=ref.uidl,
            error=error,
            attempts=1,
            first_failed_at=now,
            last_failed_at=now,
            dead=True,
        )
    )


def _advance(
    session: Session,
    account_id: int,
    folder: str,
    uidvalidity: int | None,
    last_uid: int,
    fence: int,
    rescan_before_uid: int | None,
    now: datetime,
) -> None:
    result = session.execute(
        sa.update(FolderState)
        .where(
            col(FolderState.account_id) == account_id,
            col(FolderState.folder) == folder,
            col(FolderState.fence) <= fence,
        )
        .values(
            uidvalidity=uidvalidity,
            last_uid=last_uid,
            fence=fence,
            rescan_before_uid=rescan_before_uid,
            updated_at=now,
        )
    )
    if result.rowcount:  # type: ignore[attr-defined]
        return
    if checkpoint(session, account_id, folder) is not None:
        raise LockLostError(f"folder {folder!r} was checkpointed by a newer lock holder")
    state = FolderState(
        account_id=account_id, folder=folder, uidvalidity=uidvalidity, last_uid=last_uid,
        fence=fence, rescan_before_uid=rescan_before_uid, updated_at=now,
    )  # fmt: skip
    session.add(state)


def _known_event_ids(session: Session, event_ids: list[str]) -> set[str]:
    """Which of a batch is in the ledger already (a batch repeated after a crash): one query."""
    if not event_ids:
        return set()
    query = select(ReceivedMessage.event_id).where(col(ReceivedMessage.event_id).in_(event_ids))
    return set(session.exec(query))


def due_actions(
    session: Session, account_id: int, now: datetime, limit: int = 500
) -> list[ReceivedMessage]:
    """Messages whose server action (mark read, move, delete) is due and not yet done."""
    query = (
        select(ReceivedMessage)
        .where(
            ReceivedMessage.account_id == account_id,
            col(ReceivedMessage.server_action).is_not(None),
            col(ReceivedMessage.server_action_done_at).is_(None),
            col(ReceivedMessage.server_action_due_at) <= now,
        )
        .order_by(col(ReceivedMessage.id))
        .limit(limit)
    )
    return list(session.exec(query))


def mark_actions_done(session: Session, ids: Sequence[int], now: datetime) -> None:
    if ids:
        session.execute(
            sa.update(ReceivedMessage)
            .where(col(ReceivedMessage.id).in_(ids))
            .values(server_action_done_at=now, server_action_error=None)
        )


def delete_later(session: Session, ids: Sequence[int], delay: timedelta) -> None:
    """Messages marked read are deleted `delay` after each one's download."""
    query = select(ReceivedMessage).where(col(ReceivedMessage.id).in_(ids))
    for row in session.exec(query) if ids else ():
        row.server_action = "delete"
        row.server_action_due_at = row.downloaded_at + delay


def retry_actions_later(session: Session, ids: Sequence[int], error: str, due_at: datetime) -> None:
    """A server action failed: count the try, keep the error, and try again at `due_at`."""
    if ids:
        session.execute(
            sa.update(ReceivedMessage)
            .where(col(ReceivedMessage.id).in_(ids))
            .values(
                server_action_attempts=col(ReceivedMessage.server_action_attempts) + 1,
                server_action_error=error[:2000],
                server_action_due_at=due_at,
            )
        )


def replan_action(session: Session, row_id: int, action: str | None, due_at: datetime) -> None:
    """Give a pending action that the account's settings no longer ask for its replacement
    (None: nothing is left to do; the row is finished)."""
    values: dict[str, object] = {"server_action_attempts": 0, "server_action_error": None}
    if action is None:
        values["server_action_done_at"] = due_at
    else:
        values.update(server_action=action, server_action_due_at=due_at)
    session.execute(
        sa.update(ReceivedMessage).where(col(ReceivedMessage.id) == row_id).values(**values)
    )


def record_action_outcome(
    session: Session, account_id: int, error: str | None, now: datetime
) -> None:
    """Show a failing server action on the account's status, or clear it once actions work."""
    status = status_of(session, account_id)
    if error is None:
        status.action_error = status.action_failing_since = None
        return
    status.action_error = error
    status.action_failing_since = status.action_failing_since or now


def configuration_changed(session: Session, account_ids: Sequence[int], now: datetime) -> None:
    """Someone changed these accounts: the old backoff is void, and failed server actions are
    tried again at the next poll, under the new settings."""
    if not account_ids:
        return
    session.execute(
        sa.update(AccountStatus)
        .where(col(AccountStatus.account_id).in_(account_ids))
        .values(backoff_until=None)
    )
    session.execute(
        sa.update(ReceivedMessage)
        .where(
            col(ReceivedMessage.account_id).in_(account_ids),
            col(ReceivedMessage.server_action_done_at).is_(None),
            col(ReceivedMessage.server_action_attempts) > 0,
        )
        .values(server_action_due_at=now)
    )


def status_of(session: Session, account_id: int) -> AccountStatus:
    status = session.get(AccountStatus, account_id)
    if status is None:
        status = AccountStatus(account_id=account_id)
        session.add(status)
    return status


def dead_letters(session: Session, account_id: int | None = None) -> list[DeadLetter]:
    query = select(DeadLetter).order_by(col(DeadLetter.id))
    if account_id is not None:
        query = query.where(DeadLetter.account_id == account_id)
    return list(session.exec(query))
