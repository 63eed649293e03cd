"""The configuration's version: bumped in the same transaction as every change of an account or
a system setting, with a change log saying which account changed.

The scheduler reads the version with one lookup per tick and, when it moved, only the changed
accounts: its work per tick does not grow with the number of accounts. Writers serialise on
the version row (an UPDATE holds its lock until commit), so versions become visible in the
order they were given out and a reader that has seen version N has seen every change up to N.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session
from sqlmodel import col, select

from shared.db.models import Account, ConfigChange, ConfigState, SystemSetting

#: Account columns that change while mailpoll runs, not by an administrator: the OAuth2
#: token and its status. Writing them is no configuration change.
RUNTIME_FIELDS = frozenset({"client_token_instance_encrypted", "oauth_status"})
_installed = False


def install() -> None:
    """Track changes in every session of this process (idempotent)."""
    global _installed
    if not _installed:
        event.listen(Session, "after_flush", _after_flush)
        _installed = True


def _after_flush(session: Session, _context: Any) -> None:
    """Objects have their ids here, and `new`/`dirty`/`deleted` still show what was flushed."""
    accounts: set[int] = set()
    settings = False
    for item in (*session.new, *session.dirty, *session.deleted):
        if isinstance(item, Account) and item.id is not None and _configured(item, session):
            accounts.add(item.id)
        elif isinstance(item, SystemSetting):
            settings = True
    if not accounts and not settings:
        return
    connection = session.connection()
    bump = (
        sa.update(ConfigState)
        .where(col(ConfigState.id) == 1)
        .values(version=col(ConfigState.version) + 1)
        .returning(col(ConfigState.version))
    )
    version = connection.execute(bump).scalar_one()
    rows: list[dict[str, int | None]] = [
        {"version": version, "account_id": account_id} for account_id in sorted(accounts)
    ]
    if settings:
        rows.append({"version": version, "account_id": None})
    connection.execute(sa.insert(ConfigChange), rows)


def _configured(account: Account, session: Session) -> bool:
    """New, removed, or a column other than the runtime ones changed."""
    if account in session.new or account in session.deleted:
        return True
    state = inspect(account)
    return any(
        attribute.history.has_changes()
        for attribute in state.attrs
        if attribute.key not in RUNTIME_FIELDS
    )


def version(session: Session) -> int:
    """The configuration's current version: one lookup by primary key."""
    found = session.execute(select(ConfigState.version).where(col(ConfigState.id) == 1))
    return int(found.scalar_one_or_none() or 0)


def changes_between(session: Session, seen: int, current: int) -> tuple[set[int], bool]:
    """The accounts changed after version `seen` up to `current`, and whether a system
    setting changed."""
    query = select(ConfigChange.account_id).where(
        col(ConfigChange.version) > seen, col(ConfigChange.version) <= current
    )
    changed = list(session.execute(query).scalars())
    return {account for account in changed if account is not None}, None in changed


def forget_before(session: Session, version_kept: int) -> None:
    """Drop the change log up to `version_kept` (every scheduler has read past it)."""
    session.execute(sa.delete(ConfigChange).where(col(ConfigChange.version) <= version_kept))
