"""Audit history: who changed which account or setting, when, and each field's old and new value."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from shared.db.models import AuditEntry

# Encrypted columns are reported under the name the user knows, and never with their value.
SECRET_COLUMNS = {
    "password_encrypted": "password",
    "client_secret_encrypted": "client_secret",
    "client_token_instance_encrypted": "client_token_instance",
}
_NOT_AUDITED = frozenset({"id", "created_by", "created_at", "modified_by", "modified_at"})


def diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[Any]]:
    """Each changed field as [old, new]; secrets only say whether they were set."""
    changes: dict[str, list[Any]] = {}
    for key in sorted(set(old) | set(new)):
        if key in _NOT_AUDITED:
            continue
        before, after = old.get(key), new.get(key)
        if before == after or (not old and after in (None, "", False)):
            continue  # a new account's history lists only the values that were set
        if key in SECRET_COLUMNS:
            new_state = "(changed)" if before and after else _secret_state(after)
            changes[SECRET_COLUMNS[key]] = [_secret_state(before), new_state]
        else:
            changes[key] = [_plain(before), _plain(after)]
    return changes


def record(
    session: Session,
    *,
    kind: str,
    name: str,
    action: str,
    actor: str,
    at: datetime,
    changes: dict[str, list[Any]] | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        subject_kind=kind,
        subject_name=name,
        action=action,
        actor=actor,
        at=at,
        changes=json.dumps(changes or {}, sort_keys=True),
    )
    session.add(entry)
    return entry


def history(session: Session, *, kind: str, name: str) -> list[AuditEntry]:
    """Oldest first, including entries from before a rename or removal of the same name."""
    query = (
        select(AuditEntry)
        .where(AuditEntry.subject_kind == kind, AuditEntry.subject_name == name)
        .order_by(col(AuditEntry.id))
    )
    return list(session.exec(query))


def _secret_state(value: Any) -> str:
    return "(set)" if value else "(not set)"


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
