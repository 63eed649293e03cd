"""The per-account lease in Redis: an owned lock with a fencing token, and its renewer thread."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from types import TracebackType
from typing import Any

import redis

from shared import redis_keys
from shared.errors import (
    ConnectError,
    LockBusyError,
    LockLostError,
    ServerTimeoutError,
    TransientError,
)

log = logging.getLogger(__name__)

# KEYS: lock, fence. ARGV: token, ttl ms, floor. Returns the new fence, or 0 if someone holds
# the lock. Taking the lock and counting the fence in one script means no lease ever goes without
# a fence and two leases never share one. `floor` is the highest fence the database has stored:
# a Redis that lost its data (restart without persistence, fail-over, FLUSHDB, a new embedded
# one) counts on from there instead of from 1, so its leases are never refused as stale.
_ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
    local fence = redis.call('INCR', KEYS[2])
    local floor = tonumber(ARGV[3])
    if fence <= floor then
        fence = floor + 1
        redis.call('SET', KEYS[2], fence)
    end
    return fence
end
return 0
"""

# KEYS: lock. ARGV: token, ttl ms. 1 if extended, 0 if the lock is gone or someone else's.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

# KEYS: lock. ARGV: token. 1 if deleted, 0 if it was not ours (never deletes another's lease).
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


def _translate(error: redis.RedisError, doing: str) -> TransientError:
    """Turn a redis-py error into mailpoll's tree, so callers retry without knowing redis."""
    if isinstance(error, redis.TimeoutError):
        return ServerTimeoutError(f"redis: {doing}: {error}")
    return ConnectError(f"redis: {doing}: {error}")


class AccountLock:
    """An exclusive, expiring lease on one account, owned by a random token.

    Only the owner can renew or release it (checked in Lua), so a worker whose lease ran out
    cannot remove the next owner's. Each lease gets a fencing token higher than every earlier
    one: state written under the lease can carry it, and a stale writer can be refused.
    """

    def __init__(self, client: redis.Redis, account_id: int, *, ttl_seconds: float = 60) -> None:
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        self.account_id = account_id
        self.ttl_seconds = ttl_seconds
        self.key = redis_keys.account_lock(account_id)
        self.fence_key = redis_keys.lock_fence(account_id)
        self.token: str | None = None
        self.fence: int | None = None
        self._redis = client
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    @property
    def _ttl_ms(self) -> int:
        return max(1, int(self.ttl_seconds * 1000))

    def _run(self, script: Any, keys_: list[str], args: list[Any], doing: str) -> int:
        try:
            return int(script(keys=keys_, args=args))
        except redis.RedisError as error:
            raise _translate(error, f"{doing} lock of account {self.account_id}") from error

    def acquire(self, *, floor: int = 0) -> bool:
        """Take the lease if nobody holds it; True with a new `token` and `fence` if taken.

        The fence is above `floor`, the highest fence the durable state has seen, so fencing
        survives the loss of Redis's data.
        """
        token = secrets.token_hex(16)
        fence = self._run(
            self._acquire, [self.key, self.fence_key], [token, self._ttl_ms, floor], "cannot take"
        )
        if fence == 0:
            return False
        self.token, self.fence = token, fence
        return True

    def renew(self) -> None:
        """Extend the lease by a full TTL; LockLostError if it expired or another owns it."""
        if self.token is None:
            raise LockLostError(f"lock of account {self.account_id} is not held")
        if not self._run(self._renew, [self.key], [self.token, self._ttl_ms], "cannot renew"):
            self.token = None
            raise LockLostError(
                f"lock of account {self.account_id} expired or was taken over (fence {self.fence})"
            )

    def release(self) -> bool:
        """Give the lease back; True if it was still ours. Someone else's lease is left alone."""
        token, self.token = self.token, None
        if token is None:
            return False
        return bool(self._run(self._release, [self.key], [token], "cannot release"))

    def held(self) -> bool:
        """True if Redis still has this lease under our token."""
        if self.token is None:
            return False
        try:
            value = self._redis.get(self.key)
        except redis.RedisError as error:
            raise _translate(error, f"cannot read lock of account {self.account_id}") from error
        if isinstance(value, bytes):
            value = value.decode()
        return bool(value == self.token)

    def __enter__(self) -> AccountLock:
        if not self.acquire():
            raise LockBusyError(f"account {self.account_id} is being polled by another worker")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.release()
        except TransientError:
            # The lease expires by itself; failing to hand it back early must not hide `exc`.
            log.warning("could not release lock of account %s", self.account_id, exc_info=True)


class LockRenewer:
    """Keeps a held lease alive from a daemon thread while a long poll runs.

    The poll checks `lost` (or calls `check()`) before it commits anything: once the lease
    is gone another worker may be polling the same account. Redis being unreachable for a
    whole TTL since the last renewal counts as lost too, since the lease has expired by then.
    """

    def __init__(self, lock: AccountLock, *, interval: float | None = None) -> None:
        self.lock = lock
        self.interval = interval if interval is not None else lock.ttl_seconds / 3
        self.error: BaseException | None = None
        self._lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"lock-renewer-{lock.account_id}", daemon=True
        )

    @property
    def lost(self) -> bool:
        """True once the lease is known (or must be assumed) to be gone."""
        return self._lost.is_set()

    def check(self) -> None:
        """Raise LockLostError if the lease is lost: call before committing work."""
        if self.lost:
            raise LockLostError(
                f"lock of account {self.lock.account_id} lost: {self.error}"
            ) from self.error

    def start(self) -> LockRenewer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop renewing (the lease itself is released by its owner, not here)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        last_ok = time.monotonic()
        while not self._stop.wait(self.interval):
            try:
                self.lock.renew()
                last_ok = time.monotonic()
            except LockLostError as error:
                self._mark_lost(error)
                return
            except TransientError as error:
                if time.monotonic() - last_ok >= self.lock.ttl_seconds:
                    self._mark_lost(error)
                    return
                log.warning(
                    "cannot renew lock of account %s, will retry: %s", self.lock.account_id, error
                )

    def _mark_lost(self, error: BaseException) -> None:
        log.warning("lost lock of account %s: %s", self.lock.account_id, error)
        self.error = error
        self._lost.set()

    def __enter__(self) -> LockRenewer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
