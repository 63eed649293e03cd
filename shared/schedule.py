"""The poll schedule in Redis: a sorted set of accounts by next due time, shared by replicas.

A due account is claimed and pushed one interval ahead by one Lua script, so however many
scheduler replicas tick at once, each due poll is enqueued once. A tick reads only the due
entries: its work grows with the number of due accounts, not with all accounts.
"""

from __future__ import annotations

from collections.abc import Mapping
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

    def reconcile(self, intervals: Mapping[int, int], now: float, fingerprint: str) -> None:
        """Make the schedule hold exactly `intervals` (account id -> seconds).

        New accounts are due at once; a changed interval takes effect from now, unless the
        account is already due sooner; accounts no longer listed are dropped.
        """
        try:
            stored = self._redis.hgetall(keys.schedule_intervals())
            known = {int(k): int(v) for k, v in stored.items()}
            pipe = self._redis.pipeline()
            gone = [i for i in known if i not in intervals]
            if gone:
                pipe.zrem(keys.schedule(), *gone)
                pipe.hdel(keys.schedule_intervals(), *gone)
            for account_id, interval in intervals.items():
                if known.get(account_id) == interval:
                    continue
                pipe.hset(keys.schedule_intervals(), str(account_id), interval)
                if account_id in known:
                    pipe.zadd(keys.schedule(), {str(account_id): now + interval}, lt=True)
                else:
                    pipe.zadd(keys.schedule(), {str(account_id): now}, nx=True)
            pipe.set(keys.schedule_fingerprint(), fingerprint)
            pipe.execute()
        except redis.RedisError as error:
            raise ConnectError(f"redis: cannot update the schedule: {error}") from error

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
