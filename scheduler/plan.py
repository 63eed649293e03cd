"""Which accounts the scheduler polls, and how often: read from the configuration database."""

from __future__ import annotations

from collections.abc import Collection

import sqlalchemy as sa
from sqlmodel import Session, col, select

from shared.db.models import Account, SystemSetting


def planned(
    session: Session, default_interval: int, only: Collection[int] | None = None
) -> dict[int, int]:
    """Account id -> polling interval of every enabled inbound account (of those in `only`)."""
    stored = session.get(SystemSetting, "default_polling_interval")
    default = int(stored.value) if stored else default_interval
    query = select(Account.id, Account.polling_interval).where(
        Account.type == "inbound", col(Account.enabled).is_(sa.true())
    )
    if only is not None:
        if not only:
            return {}
        query = query.where(col(Account.id).in_(list(only)))
    return {
        account_id: interval or default
        for account_id, interval in session.exec(query)
        if account_id is not None
    }
