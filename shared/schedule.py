"""The poll schedule in Redis: a sorted set of accounts by next due time, shared by replicas.

A due account is claimed and pushed one interval ahead by one Lua script, so however many
scheduler replicas tick at once, each due poll is enqueued once. A tick reads only the due
entries: its work grows with the number of due accounts, not with all accounts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from shared import keys
from shared.errors import ConnectError

# KEYS: schedule zset, intervals hash. ARGV: now, limit.
# Returns the claimed account ids; each is re-scored to now + its interval.
_CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, id in ipairs(due) do
    local interval = tonumber(redis.call('HGET', KEYS[2], id) or '60')
    redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + interval, id)
end
return due
"""


@dataclass(frozen=True)
class Planned:
    """How an enabled inbound account is to be polled: its interval, and a stamp of its
    configuration that changes whenever an administrator changes the account."""

    interval: int
    version: str


class Schedule:
    """Reads and writes the shared schedule; every Redis failure is a ConnectError."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client
        self._claim = client.register_script(_CLAIM)

    def claim_due(self, now: float, limit: int = 500) -> list[int]:
        """Take the accounts due at `now` and push each one interval ahead."""
        try:
            ids = self._claim(keys=[keys.schedule(), keys.schedule_intervals()], args=[now, limit])
        except redis.RedisError as error:
            raise ConnectError(f"redis: cannot claim due polls: {error}") from error
        return [int(i) for i in ids]

    def reconcile(self, planned: Mapping[int, Planned], now: float, fingerprint: str) -> list[int]:
        """Make the schedule hold exactly `planned` (account id -> interval and version).

        New accounts are due at once, and so are accounts whose configuration changed (a
        fix must not wait out the backoff of the error it fixes); a changed default interval
        takes effect from now, unless the account is already due sooner; accounts no longer
        listed are dropped. Returns the ids of the accounts whose configuration changed.
        """
        try:
            known = self._read_hash(keys.schedule_intervals())
            versions = self._read_hash(keys.schedule_versions())
            pipe = self._redis.pipeline()
            gone = [i for i in known if i not in planned]
            if gone:
                pipe.zrem(keys.schedule(), *gone)
                pipe.hdel(keys.schedule_intervals(), *gone)
                pipe.hdel(keys.schedule_versions(), *gone)
            changed = []
            for account_id, plan in planned.items():
                reconfigured = account_id in versions and versions[account_id] != plan.version
                if reconfigured:
                    changed.append(account_id)
                    pipe.zadd(keys.schedule(), {str(account_id): now})
                elif account_id not in known:
                    pipe.zadd(keys.schedule(), {str(account_id): now}, nx=True)
                elif known[account_id] != str(plan.interval):
                    pipe.zadd(keys.schedule(), {str(account_id): now + plan.interval}, lt=True)
                pipe.hset(keys.schedule_intervals(), str(account_id), plan.interval)
                pipe.hset(keys.schedule_versions(), str(account_id), plan.version)
            pipe.set(keys.schedule_fingerprint(), fingerprint)
            pipe.execute()
        except redis.RedisError as error:
            raise ConnectError(f"redis: cannot update the schedule: {error}") from error
        return changed

    def _read_hash(self, key: str) -> dict[int, str]:
        stored: Any = self._redis.hgetall(key)
        return {int(k): v.decode() if isinstance(v, bytes) else str(v) for k, v in stored.items()}

    def fingerprint(self) -> str | None:
        try:
            value = self._redis.get(keys.schedule_fingerprint())
        except redis.RedisError as error:
            raise ConnectError(f"redis: cannot read the schedule: {error}") from error
        return value.decode() if isinstance(value, bytes) else value

    def postpone(self, account_id: int, until: float) -> None:
        """Push an account's next poll back (backoff), never forward, and only if scheduled."""
        try:
            self._redis.zadd(keys.schedule(), {str(account_id): until}, xx=True, gt=True)
        except redis.RedisError as error:
            raise ConnectError(f"redis: cannot postpone a poll: {error}") from error

    def claim_housekeeping(self, period: float) -> bool:
        """True for one scheduler replica per period: that one enqueues housekeeping."""
        try:
            return bool(self._redis.set(keys.housekeeping_claim(), 1, nx=True, ex=int(period)))
        except redis.RedisError as error:
            raise ConnectError(f"redis: cannot claim housekeeping: {error}") from error

    def due_times(self) -> dict[int, float]:
        """Every scheduled account's next due time, for `mailpoll status`."""
        try:
            entries: Any = self._redis.zrange(keys.schedule(), 0, -1, withscores=True)
        except redis.RedisError as error:
            raise ConnectError(f"redis: cannot read the schedule: {error}") from error
        return {int(member): float(score) for member, score in entries}

    def due_times_of(self, account_ids: Sequence[int]) -> dict[int, float]:
        """The next due times of these accounts (one round trip), for a page of status."""
        if not account_ids:
            return {}
        try:
            scores: Any = self._redis.zmscore(keys.schedule(), [str(i) for i in account_ids])
        except redis.RedisError as error:
            raise ConnectError(f"redis: cannot read the schedule: {error}") from error
        return {i: float(s) for i, s in zip(account_ids, scores, strict=True) if s is not None}
