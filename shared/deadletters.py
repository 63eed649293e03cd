"""Dead letters: messages that failed every try, listed and put back for the next poll.

`mailpoll dead-letters` and the admin API use these, so both refuse an unknown id with the
same words and change nothing when one id is wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col, select

from shared.clock import Clock, as_utc, utcnow
from shared.db.models import Account, DeadLetter
from shared.errors import ConfigError

# Ids are INTEGER columns: 32 bits on PostgreSQL, which refuses to even compare a larger
# number with one; an id outside that range names no dead letter.
_LARGEST_ID = 2**31


def rows(
    session: Session,
    account_id: int | None = None,
    *,
    after_id: int | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Dead letters by id, with their account's name and state (one query)."""
    query = (
        select(DeadLetter, Account.name)
        .join(Account, col(Account.id) == col(DeadLetter.account_id))
        .order_by(col(DeadLetter.id))
    )
    if account_id is not None:
        query = query.where(DeadLetter.account_id == account_id)
    if after_id is not None:
        query = query.where(col(DeadLetter.id) > min(after_id, _LARGEST_ID - 1))
    if limit is not None:
        query = query.limit(limit)
    return [
        {
            "id": d.id, "account": name, "folder": d.folder, "uidvalidity": d.uidvalidity,
            "uid": d.uid, "uidl": d.uidl, "error": d.error, "attempts": d.attempts,
            "last_failed_at": as_utc(d.last_failed_at),
            "state": "dead" if d.dead else "replay pending",
        }
        for d, name in session.exec(query)
    ]  # fmt: skip


def replay(
    session: Session,
    ids: Sequence[int],
    account_id: int | None,
    account_name: str | None,
    *,
    clock: Clock = utcnow,
) -> tuple[int, int]:
    """Put the dead letters named by id and/or account back for the next poll: (how many were
    put back, how many were waiting for it already). Every id is checked before any change."""
    letters = _chosen(session, ids, account_id, account_name)
    dead = [letter for letter in letters if letter.dead]
    for letter in dead:
        letter.dead, letter.replayed_at = False, clock()
    session.flush()
    return len(dead), len(letters) - len(dead)


def replay_summary(replayed: int, waiting: int) -> str:
    already = f" ({waiting} already waiting for it)" if waiting else ""
    return f"{replayed} dead letter(s) will be tried again at the next poll{already}"


def _chosen(
    session: Session, ids: Sequence[int], account_id: int | None, name: str | None
) -> list[DeadLetter]:
    """The dead letters named by ID and/or account; ConfigError naming the IDs not found."""
    query = select(DeadLetter)
    if ids:
        query = query.where(col(DeadLetter.id).in_([i for i in ids if 0 < i < _LARGEST_ID]))
    if account_id is not None:
        query = query.where(DeadLetter.account_id == account_id)
    letters = list(session.exec(query))
    missing = sorted(set(ids) - {letter.id for letter in letters})
    if missing:
        listed = ", ".join(str(i) for i in missing)
        of = f" of account {name!r}" if name else ""
        raise ConfigError("id", f"no dead letter with id {listed}{of}")
    return letters
