"""Pages of accounts for the admin API: filtered, searched, ordered by name, one query a page.

Pages are keyset pages (accounts after a name), so page 1,000 of 100,000 accounts costs what
page 1 does, and an account added meanwhile neither repeats nor hides another.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from shared.db.models import Account, AccountStatus

MAX_PAGE = 500


@dataclass(frozen=True)
class AccountFilter:
    """None means any. `protocol` smtp is the outbound accounts; `failing` is an inbound
    account whose last poll failed; `search` is a substring of name, host or description."""

    type: str | None = None
    enabled: bool | None = None
    protocol: str | None = None
    failing: bool | None = None
    search: str | None = None


def page(session: Session, where: AccountFilter, *, after: str | None, limit: int) -> list[Account]:
    """Up to `limit` accounts (at most MAX_PAGE) whose names sort after `after`."""
    query = select(Account).order_by(col(Account.name)).limit(max(1, min(limit, MAX_PAGE)))
    if after is not None:
        query = query.where(col(Account.name) > after)
    for condition in _conditions(where):
        query = query.where(condition)
    return list(session.exec(query))


def _conditions(where: AccountFilter) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    if where.type is not None:
        conditions.append(col(Account.type) == where.type)
    if where.enabled is not None:
        conditions.append(col(Account.enabled).is_(sa.true() if where.enabled else sa.false()))
    if where.protocol == "smtp":
        conditions.append(col(Account.type) == "outbound")
    elif where.protocol is not None:
        conditions.append(col(Account.protocol) == where.protocol)
    if where.failing is not None:
        failing = (
            sa.select(col(AccountStatus.account_id))
            .where(
                col(AccountStatus.account_id) == col(Account.id),
                col(AccountStatus.consecutive_failures) > 0,
            )
            .exists()
        )
        conditions.append(failing if where.failing else ~failing)
    if where.search:
        text = where.search
        conditions.append(
            sa.or_(
                col(Account.name).icontains(text, autoescape=True),
                col(Account.host).icontains(text, autoescape=True),
                col(Account.description).icontains(text, autoescape=True),
            )
        )
    return conditions


def count(session: Session, where: AccountFilter) -> int:
    """How many accounts the filter matches (the console says "N accounts")."""
    query = select(sa.func.count(col(Account.id)))
    for condition in _conditions(where):
        query = query.where(condition)
    return int(session.exec(query).one())
