"""The account lease on fakeredis: exclusive, owned, fenced, renewed, and lost loudly."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import fakeredis
import pytest

from shared import redis_keys
from shared.errors import ConnectError, LockBusyError, LockLostError
from shared.lock import AccountLock, LockRenewer


@pytest.fixture
def server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


@pytest.fixture
def client(server: fakeredis.FakeServer) -> Iterator[fakeredis.FakeRedis]:
    client = fakeredis.FakeRedis(server=server)
    yield client
    client.close()


def wait_until(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_first_owner_gets_the_lease_and_a_fence(client: fakeredis.FakeRedis) -> None:
    lock = AccountLock(client, 1)
    assert lock.acquire()
    assert lock.fence == 1
    assert lock.held()
    assert client.get(redis_keys.account_lock(1)) == lock.token.encode()  # type: ignore[union-attr]
    assert 59_000 < client.pttl(redis_keys.account_lock(1)) <= 60_000


def test_second_owner_is_refused_while_the_lease_is_held(client: fakeredis.FakeRedis) -> None:
    first, second = AccountLock(client, 1), AccountLock(client, 1)
    assert first.acquire()
    assert not second.acquire()
    assert second.fence is None
    assert not second.held()


def test_locks_of_different_accounts_are_independent(client: fakeredis.FakeRedis) -> None:
    assert AccountLock(client, 1).acquire()
    assert AccountLock(client, 2).acquire()


def test_takeover_after_expiry_gets_a_higher_fence(client: fakeredis.FakeRedis) -> None:
    first, second = AccountLock(client, 1, ttl_seconds=0.05), AccountLock(client, 1)
    assert first.acquire()
    time.sleep(0.1)
    assert second.acquire()
    assert second.fence is not None
    assert first.fence is not None
    assert second.fence > first.fence


def test_fence_keeps_growing_across_releases(client: fakeredis.FakeRedis) -> None:
    fences = []
    for _ in range(3):
        lock = AccountLock(client, 1)
        assert lock.acquire()
        fences.append(lock.fence)
        assert lock.release()
    assert fences == [1, 2, 3]


def test_release_by_a_stale_owner_leaves_the_new_lease_alone(client: fakeredis.FakeRedis) -> None:
    stale, current = AccountLock(client, 1, ttl_seconds=0.05), AccountLock(client, 1)
    assert stale.acquire()
    time.sleep(0.1)
    assert current.acquire()
    assert not stale.release()
    assert current.held()


def test_release_without_holding_does_nothing(client: fakeredis.FakeRedis) -> None:
    owner = AccountLock(client, 1)
    assert owner.acquire()
    assert not AccountLock(client, 1).release()
    assert owner.held()


def test_renew_extends_the_lease(client: fakeredis.FakeRedis) -> None:
    lock = AccountLock(client, 1, ttl_seconds=0.2)
    assert lock.acquire()
    time.sleep(0.1)
    lock.renew()
    assert client.pttl(redis_keys.account_lock(1)) > 150


def test_renew_after_expiry_raises_lock_lost(client: fakeredis.FakeRedis) -> None:
    lock = AccountLock(client, 1, ttl_seconds=0.05)
    assert lock.acquire()
    time.sleep(0.1)
    with pytest.raises(LockLostError):
        lock.renew()
    assert not lock.held()


def test_renew_after_takeover_raises_lock_lost(client: fakeredis.FakeRedis) -> None:
    lock = AccountLock(client, 1, ttl_seconds=0.05)
    assert lock.acquire()
    time.sleep(0.1)
    assert AccountLock(client, 1).acquire()
    with pytest.raises(LockLostError):
        lock.renew()


def test_renew_without_acquire_raises_lock_lost(client: fakeredis.FakeRedis) -> None:
    with pytest.raises(LockLostError):
        AccountLock(client, 1).renew()


def test_context_manager_holds_then_releases(client: fakeredis.FakeRedis) -> None:
    with AccountLock(client, 1) as lock:
        assert lock.held()
        with pytest.raises(LockBusyError), AccountLock(client, 1):
            pass
    assert client.get(redis_keys.account_lock(1)) is None


def test_redis_down_is_a_connect_error(
    client: fakeredis.FakeRedis, server: fakeredis.FakeServer
) -> None:
    server.connected = False
    with pytest.raises(ConnectError):
        AccountLock(client, 1).acquire()


def test_renewer_keeps_a_lease_alive_past_its_ttl(client: fakeredis.FakeRedis) -> None:
    lock = AccountLock(client, 1, ttl_seconds=0.15)
    assert lock.acquire()
    with LockRenewer(lock) as renewer:
        time.sleep(0.4)
        assert not renewer.lost
        assert lock.held()
        renewer.check()


def test_renewer_records_a_takeover_as_lost(client: fakeredis.FakeRedis) -> None:
    lock = AccountLock(client, 1, ttl_seconds=0.3)
    assert lock.acquire()
    with LockRenewer(lock) as renewer:
        client.delete(redis_keys.account_lock(1))
        assert AccountLock(client, 1).acquire()
        wait_until(lambda: renewer.lost)
        assert isinstance(renewer.error, LockLostError)
        with pytest.raises(LockLostError):
            renewer.check()


def test_renewer_counts_redis_down_for_a_whole_ttl_as_lost(
    client: fakeredis.FakeRedis, server: fakeredis.FakeServer
) -> None:
    lock = AccountLock(client, 1, ttl_seconds=0.15)
    assert lock.acquire()
    with LockRenewer(lock) as renewer:
        server.connected = False
        wait_until(lambda: renewer.lost)
        assert isinstance(renewer.error, ConnectError)


def test_renewer_survives_a_short_redis_outage(
    client: fakeredis.FakeRedis, server: fakeredis.FakeServer
) -> None:
    lock = AccountLock(client, 1, ttl_seconds=0.6)
    assert lock.acquire()
    with LockRenewer(lock) as renewer:
        server.connected = False
        time.sleep(0.25)
        server.connected = True
        time.sleep(0.5)
        assert not renewer.lost
        assert lock.held()


def test_a_redis_that_lost_its_counter_continues_above_the_stored_fence(
    client: fakeredis.FakeRedis,
) -> None:
    lock = AccountLock(client, 1)
    assert lock.acquire(floor=210)  # the database holds fence 210; this Redis counts from 0
    assert lock.fence == 211
    lock.release()
    assert lock.acquire(floor=210)
    assert lock.fence == 212


def test_a_floor_below_the_counter_changes_nothing(client: fakeredis.FakeRedis) -> None:
    lock = AccountLock(client, 1)
    for _ in range(5):
        assert lock.acquire()
        lock.release()
    assert lock.acquire(floor=2)
    assert lock.fence == 6
