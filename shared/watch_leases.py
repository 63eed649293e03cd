"""Which watcher holds which account's IDLE connection: expiring leases in Redis.

Every watcher process heartbeats into a set of live watchers and holds a lease per account it
watches, renewed in batches; a watcher that dies stops renewing, so within one lease time its
accounts are free for the others. The holder also keeps a record of how it watches each
account (IDLE, interval polling, reconnecting), expiring with the lease, for `mailpoll status`.
Times are Redis's own (TIME), so watchers on hosts with skewed clocks agree.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import redis

from shared import watch_keys
from shared.errors import ConnectError

BATCH = 500  # keys per script call: one call never blocks Redis for long

# KEYS: watchers zset. ARGV: watcher id, ttl ms. Registers the heartbeat, drops the expired,
# returns the live watcher ids.
_HEARTBEAT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""

# KEYS: lease1, mode1, lease2, mode2, ... ARGV: watcher id, ttl ms, claim (1) or renew (0).
# Returns 1 per account held afterwards, 0 per account another watcher holds (or, renewing,
# that was lost). Renewing extends the mode record too.
_HOLD = """
local held = {}
for i = 1, #KEYS, 2 do
    local owner = redis.call('GET', KEYS[i])
    if owner == ARGV[1] then
        redis.call('PEXPIRE', KEYS[i], ARGV[2])
        redis.call('PEXPIRE', KEYS[i + 1], ARGV[2])
        held[#held + 1] = 1
    elseif not owner and ARGV[3] == '1' then
        redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2])
        redis.call('DEL', KEYS[i + 1])
        held[#held + 1] = 1
    else
        held[#held + 1] = 0
    end
end
return held
"""

# KEYS: lease1, mode1, ... ARGV: watcher id. Deletes the leases (and records) this watcher holds.
_RELEASE = """
for i = 1, #KEYS, 2 do
    if redis.call('GET', KEYS[i]) == ARGV[1] then
        redis.call('DEL', KEYS[i], KEYS[i + 1])
    end
end
return 1
"""

# KEYS: lease, mode. ARGV: watcher id, record, ttl ms. Writes the record only for the holder.
_RECORD = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
    return 1
end
return 0
"""


@dataclass(frozen=True)
class WatchMode:
    """How a watcher watches one account: `idle` (push works), `interval` (the server offers
    no IDLE: the schedule polls it), or `connecting` (after a failure; `detail` says which)."""

    mode: str
    detail: str
    watcher: str
    since: float  # Unix seconds

    def describe(self) -> str:
        """One line for people: mode, since when, which watcher, why."""
        when = datetime.fromtimestamp(self.since, UTC).strftime("%Y-%m-%d %H:%M:%S")
        text = f"{self.mode} since {when} (watcher {self.watcher})"
        return f"{text}: {self.detail}" if self.detail else text


class WatchLeases:
    """One watcher's view: heartbeat, claim, renew and release accounts, record their mode.

    Every Redis failure is a ConnectError.
    """

    def __init__(self, client: redis.Redis, watcher_id: str, *, ttl_seconds: float) -> None:
        self.watcher_id = watcher_id
        self._redis = client
        self._ttl_ms = max(int(ttl_seconds * 1000), 1)
        self._heartbeat = client.register_script(_HEARTBEAT)
        self._hold = client.register_script(_HOLD)
        self._release = client.register_script(_RELEASE)
        self._record = client.register_script(_RECORD)

    def heartbeat(self) -> list[str]:
        """Say this watcher lives; returns every live watcher's id (this one included)."""
        live = self._call(self._heartbeat, [watch_keys.watchers()], [self.watcher_id, self._ttl_ms])
        return sorted(_text(item) for item in live)

    def leave(self) -> None:
        """Leave the live set at once (a clean stop), so the others rebalance now."""
        try:
            self._redis.zrem(watch_keys.watchers(), self.watcher_id)
        except redis.RedisError as error:
            raise ConnectError(f"redis: cannot leave the watchers: {error}") from error

    def claim(self, account_ids: Sequence[int]) -> list[int]:
        """Take the free ones among `account_ids`; returns those now held (renewed if ours)."""
        return self._holding(account_ids, claim=True)

    def renew(self, account_ids: Sequence[int]) -> list[int]:
        """Extend the leases held; returns the ids that were lost (expired, taken)."""
        kept = set(self._holding(account_ids, claim=False))
        return [i for i in account_ids if i not in kept]

    def release(self, account_ids: Sequence[int]) -> None:
        for batch in _batches(account_ids):
            self._call(self._release, _pairs(batch), [self.watcher_id])

    def record(self, account_id: int, mode: WatchMode) -> bool:
        """Store how the account is watched; False when this watcher no longer holds it."""
        keys = [watch_keys.watch_lease(account_id), watch_keys.watch_mode(account_id)]
        record = json.dumps(asdict(mode))
        return bool(self._call(self._record, keys, [self.watcher_id, record, self._ttl_ms]))

    def _holding(self, account_ids: Sequence[int], *, claim: bool) -> list[int]:
        held: list[int] = []
        for batch in _batches(account_ids):
            args = [self.watcher_id, self._ttl_ms, int(claim)]
            flags = self._call(self._hold, _pairs(batch), args)
            held.extend(i for i, flag in zip(batch, flags, strict=True) if int(flag))
        return held

    def _call(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        try:
            return script(keys=keys, args=args)
        except redis.RedisError as error:
            raise ConnectError(f"redis: watcher leases: {error}") from error


def modes(client: redis.Redis, account_ids: Sequence[int]) -> dict[int, WatchMode]:
    """How each of these accounts is watched now; an account no watcher holds is left out."""
    found: dict[int, WatchMode] = {}
    for batch in _batches(account_ids):
        try:
            values: Any = client.mget([watch_keys.watch_mode(i) for i in batch])
        except redis.RedisError as error:
            raise ConnectError(f"redis: cannot read the watch modes: {error}") from error
        for account_id, value in zip(batch, values, strict=True):
            if value is not None:
                found[account_id] = WatchMode(**json.loads(_text(value)))
    return found


def _pairs(account_ids: Sequence[int]) -> list[str]:
    return [
        key for i in account_ids for key in (watch_keys.watch_lease(i), watch_keys.watch_mode(i))
    ]


def _batches(account_ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(account_ids), BATCH):
        yield account_ids[start : start + BATCH]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
