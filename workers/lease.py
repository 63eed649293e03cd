"""What a poll (or housekeeping) holds on an account while it works: one exclusive lease.

The lease is the Redis lock with its fencing token, kept alive by a renewer thread; in embedded
mode (no shared Redis) also a lock file in the data dir, so that two processes on one data dir
never poll one account at once.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import redis

from shared import keys
from shared.errors import MailpollError
from shared.hostlock import HostLock
from shared.lock import AccountLock, LockRenewer

log = logging.getLogger(__name__)


class AccountLease:
    """One account held by this worker; `take` says why not when another process has it."""

    def __init__(
        self,
        client: redis.Redis,
        account_id: int,
        *,
        ttl_seconds: float,
        host_locks: Path | None = None,
    ) -> None:
        self.lock = AccountLock(client, account_id, ttl_seconds=ttl_seconds)
        self._host = None if host_locks is None else HostLock(host_locks, f"account-{account_id}")
        self._redis = client

    @property
    def fence(self) -> int:
        assert self.lock.fence is not None, "the lease is not taken"
        return self.lock.fence

    def take(self, *, floor: int) -> str | None:
        """None once the lease is ours; else why not (another worker or process has it).

        `floor` is the highest fence the database has stored (see AccountLock.acquire). A
        Redis failure propagates as a TransientError.
        """
        if self._host is not None and not self._host.acquire():
            return f"another mailpoll process (pid {self._host.holder()}) is polling it now"
        try:
            if self.lock.acquire(floor=floor):
                return None
        except BaseException:
            self._release_host()
            raise
        self._release_host()
        with contextlib.suppress(redis.RedisError):
            self._redis.incr(keys.lock_contention_count())
        return "another worker is polling it now"

    @contextlib.contextmanager
    def renewed(self) -> Iterator[Callable[[], bool]]:
        """Keep the lease alive while the block runs; yields `alive()`, False once it is lost."""
        with LockRenewer(self.lock) as renewer:
            yield lambda: not renewer.lost

    def release(self) -> None:
        """Give the lease back; a Redis that cannot be reached lets it expire by itself."""
        try:
            self.lock.release()
        except MailpollError as error:  # it expires by itself
            log.warning("cannot release the lock of account %s: %s", self.lock.account_id, error)
        finally:
            self._release_host()

    def _release_host(self) -> None:
        if self._host is not None:
            self._host.release()
