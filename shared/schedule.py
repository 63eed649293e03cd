"""The poll schedule in Redis: a sorted set of accounts by next due time, shared by replicas.

A due account is claimed and pushed one interval ahead by one Lua script, so however many
scheduler replicas tick at once, each due poll is enqueued once. A tick reads only the due
entries: its work grows with the number of due accounts, not with all accounts. Which
configuration the schedule reflects is kept beside it (`seen`): the configuration version and
the default interval it was built with.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import redis

from shared import redis_keys
from shared.errors import ConnectError

# KEYS: schedule zset, intervals hash. ARGV: now, limit.
# Returns the claimed account ids and their due times, flat; each is re-scored to now + its
# interval.
_CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[2])
for i = 1, #due, 2 do
    local interval = tonumber(redis.call('HGET', KEYS[2], due[i]) or '60')
    redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + interval, due[i])
end
return due
"""

# KEYS: seen. ARGV: version, default interval. Moves the seen version forward, never back
# (a slower replica must not undo a faster one's), and stores the default interval with it.
_SEEN = """
local current = redis.call('GET', KEYS[1])
if current then
    local version = tonumber(string.match(current, '^(%d+)'))
    if version and version > tonumber(ARGV[1]) then
        return 0
    end
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[2])
return 1
"""
#: A full reconcile that finds more new accounts than this (a cold start, Redis lost its data)
#: spreads their first polls over one interval instead of making them all due at once.
SPREAD_ABOVE = 1000


class Schedule:
    """Reads and writes the shared schedule; every Redis failure is a ConnectError."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client
        self._claim = client.register_script(_CLAIM)
        self._seen = client.register_script(_SEEN)

    def claim_due(self, now: float, limit: int = 5000) -> list[tuple[int, float]]:
        """Take the accounts due at `now` and push each one interval ahead; returns each
        account id with the time it was due."""
        try:
            flat = self._claim(
                keys=[redis_keys.schedule(), redis_keys.schedule_intervals()], args=[now, limit]
            )
        except redis.RedisError as error:
            raise ConnectError(f"redis: cannot claim due polls: {error}") from error
        return [(int(flat[i]), float(flat[i + 1])) for i in range(0, len(flat), 2)]

    def next_due(self) -> float | None:
        """When the earliest scheduled poll is due, if any."""
        try:
            first: Any = self._redis.zrange(redis_keys.schedule(), 0, 0, withscores=True)
        except redis.RedisError as error:
            raise ConnectError(f"redis: cannot read the schedule: {error}") from error
        return float(first[0][1]) if first else None

    def seen(self) -> tuple[int, int] | None:
        """(configuration version, default interval) the schedule reflects; None at first."""
        try:
            value = self._redis.get(redis_keys.schedule_seen())
        except redis.RedisError as error:
            raise ConnectError(f"redis: cannot read the schedule: {error}") from error
        if value is None:
            return None
        version, _, default = (
            value.decode() if isinstance(value, bytes) else str(value)
        ).partition("|")
        return int(version), int(default or 0)

    def mark_seen(self, version: int, default_interval: int) -> None:
        try:
            self._seen(keys=[redis_keys.schedule_seen()], args=[version, default_interval])
        except redis.RedisError as error:
            raise ConnectError(f"redis: cannot update the schedule: {error}") from error

    def reconcile(self, planned: Mapping[int, int], now: float) -> None:
        """Make the schedule hold exactly `planned` (account id -> interval), reading it all.

        New accounts are due at once (spread over their interval when there are more than
        SPREAD_ABOVE of them); a changed interval takes effect from now, unless the account is
        due sooner; accounts no longer listed are dropped.
        """
        try:
            known = self._read_hash(redis_keys.schedule_intervals())
            pipe = self._redis.pipeline()
            gone = [i for i in known if i not in planned]
            if gone:
                pipe.zrem(redis_keys.schedule(), *gone)
                pipe.hdel(redis_keys.schedule_intervals(), *gone)
            new = [i for i in planned if i not in known]
            spread = len(new) > SPREAD_ABOVE
            for index, account_id in enumerate(new):
                due = now + planned[account_id] * index / len(new) if spread else now
                pipe.zadd(redis_keys.schedule(), {str(account_id): due}, nx=True)
            for account_id, interval in planned.items():
                if account_id in known and known[account_id] != str(interval):
                    pipe.zadd(redis_keys.schedule(), {str(account_id): now + interval}, lt=True)
            if planned:
                pipe.hset(
                    redis_keys.schedule_intervals(), mapping={str(k): v for k, v in planned.items()}
                )
            pipe.execute()
        except redis.RedisError as error:
            raise ConnectError(f"redis: cannot update the schedule: {error}") from error

    def apply(self, planned: Mapping[int, int], changed: Collection[int], now: float) -> list[int]:
        """Apply a change of the accounts `changed`: those in `planned` (still enabled inbound
        accounts, with their interval) are due at once, a fix must not wait out the backoff of
        the error it fixes; the others are dropped. Returns the ones that were scheduled before
        and still are (their configuration changed)."""
        try:
            pipe = self._redis.pipeline()
            for account_id in changed:
                pipe.zscore(redis_keys.schedule(), str(account_id))
            before = {
                a for a, score in zip(changed, pipe.execute(), strict=True) if score is not None
            }
            gone = [str(a) for a in changed if a not in planned]
            if gone:
                pipe.zrem(redis_keys.schedule(), *gone)
                pipe.hdel(redis_keys.schedule_intervals(), *gone)
            if planned:
                pipe.zadd(redis_keys.schedule(), {str(a): now for a in planned})
                pipe.hset(
                    redis_keys.schedule_intervals(), mapping={str(k): v for k, v in planned.items()}
                )
            pipe.execute()
        except redis.RedisError as error:
            raise ConnectError(f"redis: cannot update the schedule: {error}") from error
        return sorted(a for a in planned if a in before)

    def _read_hash(self, key: str) -> dict[int, str]:
        stored: Any = self._redis.hgetall(key)
        return {int(k): v.decode() if isinstance(v, bytes) else str(v) for k, v in stored.items()}

    def postpone(self, account_id: int, until: float) -> None:
        """Push an account's next poll back (backoff), never forward, and only if scheduled."""
        try:
            self._redis.zadd(redis_keys.schedule(), {str(account_id): until}, xx=True, gt=True)
        except redis.RedisError as error:
            raise ConnectError(f"redis: cannot postpone a poll: {error}") from error

    def claim_housekeeping(self, period: float) -> bool:
        """True for one scheduler replica per period: that one enqueues housekeeping."""
        try:
            return bool(
                self._redis.set(redis_keys.housekeeping_claim(), 1, nx=True, ex=int(period))
            )
        except redis.RedisError as error:
            raise ConnectError(f"redis: cannot claim housekeeping: {error}") from error

    def due_times(self) -> dict[int, float]:
        """Every scheduled account's next due time, for `mailpoll status`."""
        try:
            entries: Any = self._redis.zrange(redis_keys.schedule(), 0, -1, withscores=True)
        except redis.RedisError as error:
            raise ConnectError(f"redis: cannot read the schedule: {error}") from error
        return {int(member): float(score) for member, score in entries}

    def due_times_of(self, account_ids: Sequence[int]) -> dict[int, float]:
        """The next due times of these accounts (one round trip), for a page of status."""
        if not account_ids:
            return {}
        try:
            scores: Any = self._redis.zmscore(redis_keys.schedule(), [str(i) for i in account_ids])
        except redis.RedisError as error:
            raise ConnectError(f"redis: cannot read the schedule: {error}") from error
        return {i: float(s) for i, s in zip(account_ids, scores, strict=True) if s is not None}
