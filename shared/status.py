"""How each inbound account's polling goes, a page at a time: `mailpoll status` and the API.

One query a page (account, its status row and its dead-letter count together), so the status
of 100,000 accounts is read in pages of bounded cost, never one query per account.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from shared import redis_keys
from shared.clock import as_utc
from shared.db.models import Account, AccountStatus, DeadLetter
from shared.errors import ConnectError

if TYPE_CHECKING:  # `mailpoll status` without a Redis server loads no Redis client
    import redis

#: Next due times (epoch seconds) of these account ids, from the shared schedule.
DueTimes = Callable[[Sequence[int]], Mapping[int, float]]


@dataclass(frozen=True)
class StatusRow:
    """One inbound account's polling, as `mailpoll status --json` and the API give it."""

    account: str
    enabled: bool
    last_poll_at: datetime | None
    last_success_at: datetime | None
    consecutive_failures: int
    last_error: str | None
    failing_since: datetime | None
    messages_waiting: int
    oldest_waiting_at: datetime | None
    dead_letters: int
    next_poll_at: datetime | None
    action_error: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def page(
    session: Session,
    *,
    after: str | None,
    limit: int,
    default_interval: int,
    due: DueTimes | None = None,
) -> list[StatusRow]:
    """Up to `limit` inbound accounts by name, after the name `after`."""
    dead = (
        select(sa.func.count(col(DeadLetter.id)))
        .where(col(DeadLetter.account_id) == col(Account.id))
        .correlate(Account)
        .scalar_subquery()
    )
    query = (
        select(Account, AccountStatus, dead)
        .outerjoin(AccountStatus, col(AccountStatus.account_id) == col(Account.id))
        .where(Account.type == "inbound")
        .order_by(col(Account.name))
        .limit(limit)
    )
    if after is not None:
        query = query.where(col(Account.name) > after)
    found = list(session.exec(query))
    ids = [account.id for account, _, _ in found if account.id is not None]
    due_at = dict(due(ids)) if due is not None and ids else {}
    return [
        _row(account, status or AccountStatus(account_id=account.id or 0), int(count), due_at,
             default_interval)
        for account, status, count in found
    ]  # fmt: skip


def scheduled(client: redis.Redis) -> DueTimes:
    """Next due times of a page of accounts from the shared poll schedule (one round trip,
    not the whole schedule: a page of 100 out of 100,000 reads 100 scores)."""

    from redis import RedisError

    def due_times(account_ids: Sequence[int]) -> dict[int, float]:
        try:
            scores: Any = client.zmscore(redis_keys.schedule(), [str(i) for i in account_ids])
        except RedisError as error:
            raise ConnectError(f"redis: cannot read the schedule: {error}") from error
        return {i: float(s) for i, s in zip(account_ids, scores, strict=True) if s is not None}

    return due_times


def every(
    session: Session, *, default_interval: int, due: DueTimes | None = None, size: int = 1000
) -> Iterator[StatusRow]:
    """Every inbound account's status, read a page at a time."""
    after: str | None = None
    while True:
        rows = page(session, after=after, limit=size, default_interval=default_interval, due=due)
        yield from rows
        if len(rows) < size:
            return
        after = rows[-1].account


def _row(
    account: Account,
    status: AccountStatus,
    dead_letters: int,
    due_at: Mapping[int, float],
    default_interval: int,
) -> StatusRow:
    scheduled = due_at.get(account.id) if account.id is not None else None
    return StatusRow(
        account=account.name,
        enabled=account.enabled,
        last_poll_at=as_utc(status.last_poll_at),
        last_success_at=as_utc(status.last_success_at),
        consecutive_failures=status.consecutive_failures,
        last_error=status.last_error,
        failing_since=as_utc(status.failing_since),
        messages_waiting=status.messages_waiting,
        oldest_waiting_at=as_utc(status.oldest_waiting_at),
        dead_letters=dead_letters,
        next_poll_at=_estimated_next(account, status, default_interval)
        if scheduled is None
        else datetime.fromtimestamp(scheduled, UTC),
        action_error=status.action_error,
    )


def _estimated_next(account: Account, status: AccountStatus, default: int) -> datetime | None:
    """Without a Redis server to ask (the embedded one lives in `mailpoll run`), the next poll
    as the status tells it: after the backoff, else one interval after the last poll."""
    if not account.enabled:
        return None
    backoff = as_utc(status.backoff_until)
    if backoff is not None:
        return backoff
    last = as_utc(status.last_poll_at)
    return None if last is None else last + timedelta(seconds=account.polling_interval or default)


def of_accounts(
    session: Session,
    accounts: Sequence[Account],
    *,
    default_interval: int,
    due: DueTimes | None = None,
) -> dict[str, StatusRow]:
    """The status of these accounts' inbound ones, by name, in one query (for a page of the
    console's accounts list, whatever its filter)."""
    inbound = {
        account.id: account
        for account in accounts
        if account.type == "inbound" and account.id is not None
    }
    if not inbound:
        return {}
    dead = (
        select(col(DeadLetter.account_id), sa.func.count(col(DeadLetter.id)))
        .where(col(DeadLetter.account_id).in_(list(inbound)))
        .group_by(col(DeadLetter.account_id))
    )
    counts = {account_id: int(count) for account_id, count in session.exec(dead)}
    found = session.exec(
        select(AccountStatus).where(col(AccountStatus.account_id).in_(list(inbound)))
    )
    statuses = {row.account_id: row for row in found}
    due_at = dict(due(list(inbound))) if due is not None else {}
    return {
        account.name: _row(
            account, statuses.get(account_id) or AccountStatus(account_id=account_id),
            counts.get(account_id, 0), due_at, default_interval,
        )
        for account_id, account in inbound.items()
    }  # fmt: skip
