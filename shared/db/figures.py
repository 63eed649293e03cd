"""Cluster-wide figures from the database for the scheduler's /metrics: a few aggregates.

Each is one query over the whole table (indexed or not, a few milliseconds for 100,000
accounts on PostgreSQL), read at most once per scrape interval.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, func, select

from shared.clock import as_utc
from shared.db.models import Account, AccountStatus, DeadLetter


@dataclass(frozen=True)
class ClusterFigures:
    enabled_inbound: int = 0
    failing: dict[str, int] = field(default_factory=dict)  # by the kind of the last error
    mail_waiting: int = 0  # left on the servers for the next polls
    oldest_waiting_at: datetime | None = None
    dead_letters: int = 0  # on the dead-letter list, not put back for another try


def cluster_figures(session: Session) -> ClusterFigures:
    enabled = select(func.count()).where(Account.type == "inbound", col(Account.enabled))
    failing = select(AccountStatus.last_error_kind, func.count()).where(
        AccountStatus.consecutive_failures > 0
    )
    waiting = select(
        func.coalesce(func.sum(AccountStatus.messages_waiting), 0),
        func.min(AccountStatus.oldest_waiting_at),
    ).where(AccountStatus.messages_waiting > 0)
    dead = select(func.count()).where(col(DeadLetter.dead))
    total, oldest = session.exec(waiting).one()
    return ClusterFigures(
        enabled_inbound=session.exec(enabled).one(),
        failing={kind or "unknown": count for kind, count in session.exec(
            failing.group_by(AccountStatus.last_error_kind)
        )},
        mail_waiting=int(total),
        oldest_waiting_at=as_utc(oldest),
        dead_letters=session.exec(dead).one(),
    )  # fmt: skip
