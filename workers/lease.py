"""What a poll (or housekeeping) holds on an account while it works: one exclusive lease.

The lease is the Redis lock with its fencing token, kept alive by a renewer thread; in embedded
mode (no shared Redis) also a lock file in the data dir, so that two processes on one data dir
never poll one account at once. `hold` is the one way to take it: a context manager that
renews it while the block runs and gives it back at the end, whatever happens.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import redis

from shared import redis_keys
from shared.errors import MailpollError
from shared.hostlock import HostLock
from shared.lock import AccountLock, LockRenewer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hold:
    """The lease as the block sees it: `busy` says why it is not ours (the block should end);
    otherwise `fence` is its fencing token and `alive()` turns False once it is lost."""

    busy: str | None
    fence: int = 0
    alive: Callable[[], bool] = lambda: False


@contextlib.contextmanager
def hold(
    client: redis.Redis,
    account_id: int,
    *,
    ttl_seconds: float,
    floor: int,
    host_locks: Path | None = None,
) -> Iterator[Hold]:
    """Hold the account's lease while the block runs.

    `floor` is the highest fence the database has stored (see AccountLock.acquire). A Redis
    failure while taking the lease propagates as a TransientError; one while giving it back
    is logged and the lease expires by itself, so it never ends the caller's work.
    """
    lock = AccountLock(client, account_id, ttl_seconds=ttl_seconds)
    host = None if host_locks is None else HostLock(host_locks, f"account-{account_id}")
    if host is not None and not host.acquire():
        yield Hold(f"another mailpoll process (pid {host.holder()}) is polling it now")
        return
    try:
        if not lock.acquire(floor=floor):
            with contextlib.suppress(redis.RedisError):
                client.incr(redis_keys.lock_contention_count())
            yield Hold("another worker is polling it now")
            return
        assert lock.fence is not None
        try:
            with LockRenewer(lock) as renewer:
                yield Hold(None, lock.fence, lambda: not renewer.lost)
        finally:
            _release(lock)
    finally:
        if host is not None:
            host.release()


def _release(lock: AccountLock) -> None:
    try:
        lock.release()
    except MailpollError as error:  # it expires by itself
        log.warning("cannot release the lock of account %s: %s", lock.account_id, error)
