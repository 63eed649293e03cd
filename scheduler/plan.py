"""Which accounts the scheduler polls, and how often: read from the configuration database."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from shared.clock import utc
from shared.db.models import Account, SystemSetting
from shared.schedule import Planned


def fingerprint(session: Session, default_interval: int) -> str:
    """Changes whenever an account or setting is added, changed or removed: one cheap query,
    so a tick can tell whether the schedule must be reconciled without reading every account."""
    accounts = session.exec(select(func.count(), func.max(Account.modified_at))).one()
    settings = session.exec(select(func.count(), func.max(SystemSetting.modified_at))).one()
    return f"{accounts[0]}|{accounts[1]}|{settings[0]}|{settings[1]}|{default_interval}"


def planned(session: Session, default_interval: int) -> dict[int, Planned]:
    """Account id -> polling interval and configuration stamp of every enabled inbound account."""
    stored = session.get(SystemSetting, "default_polling_interval")
    default = int(stored.value) if stored else default_interval
    query = select(Account.id, Account.polling_interval, Account.modified_at).where(
        Account.type == "inbound", col(Account.enabled).is_(sa.true())
    )
    return {
        account_id: Planned(interval or default, utc(modified).isoformat())
        for account_id, interval, modified in session.exec(query)
        if account_id is not None
    }
