"""The account lease on a real Redis: Lua scripts, expiry and fencing as the server runs them."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from shared.errors import ConnectError, LockLostError
from shared.lock import AccountLock, LockRenewer

pytestmark = pytest.mark.integration


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_url) as client:
        yield client


def test_two_owners_exclude_each_other(client: redis.Redis) -> None:
    first, second = AccountLock(client, 1), AccountLock(client, 1)
    assert first.acquire()
    assert not second.acquire()
    assert first.release()
    assert second.acquire()
    assert second.fence == 2


def test_takeover_after_expiry_gets_a_higher_fence(client: redis.Redis) -> None:
    first = AccountLock(client, 1, ttl_seconds=0.05)
    assert first.acquire()
    time.sleep(0.1)
    second = AccountLock(client, 1)
    assert second.acquire()
    assert second.fence is not None
    assert first.fence is not None
    assert second.fence > first.fence


def test_release_by_a_non_owner_does_nothing(client: redis.Redis) -> None:
    stale = AccountLock(client, 1, ttl_seconds=0.05)
    assert stale.acquire()
    time.sleep(0.1)
    current = AccountLock(client, 1)
    assert current.acquire()
    assert not stale.release()
    assert not AccountLock(client, 1).release()
    assert current.held()


def test_renew_after_loss_raises(client: redis.Redis) -> None:
    lock = AccountLock(client, 1, ttl_seconds=0.05)
    assert lock.acquire()
    time.sleep(0.1)
    assert AccountLock(client, 1).acquire()
    with pytest.raises(LockLostError):
        lock.renew()


def test_renewer_keeps_the_lease_on_a_real_server(client: redis.Redis) -> None:
    lock = AccountLock(client, 1, ttl_seconds=0.15)
    assert lock.acquire()
    with LockRenewer(lock) as renewer:
        time.sleep(0.4)
        assert not renewer.lost
    assert lock.release()


def test_unreachable_redis_is_a_connect_error() -> None:
    client = redis.Redis(host="127.0.0.1", port=1, retry=None, socket_connect_timeout=1)  # type: ignore[arg-type]
    with client, pytest.raises(ConnectError):
        AccountLock(client, 1).acquire()
