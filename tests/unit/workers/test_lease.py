"""The lease context manager: taken, renewed, given back; busy when another holds it; a Redis
failure when giving it back ends nothing (the lease runs out by itself)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import fakeredis
import pytest

from shared import redis_keys
from shared.errors import ConnectError
from shared.lock import AccountLock
from workers.lease import hold


@pytest.fixture
def client() -> Iterator[fakeredis.FakeRedis]:
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    yield client
    client.close()


def test_the_lease_is_held_in_the_block_and_given_back_after(
    client: fakeredis.FakeRedis,
) -> None:
    with hold(client, 7, ttl_seconds=15, floor=41) as held:
        assert held.busy is None
        assert held.fence == 42  # above the fence the database has stored
        assert held.alive()
        assert client.get(redis_keys.account_lock(7)) is not None
    assert client.get(redis_keys.account_lock(7)) is None


def test_a_lease_held_elsewhere_is_busy_and_left_alone(client: fakeredis.FakeRedis) -> None:
    other = AccountLock(client, 7, ttl_seconds=15)
    assert other.acquire()
    with hold(client, 7, ttl_seconds=15, floor=0) as held:
        assert held.busy == "another worker is polling it now"
        assert not held.alive()
    assert client.get(redis_keys.account_lock(7)) == other.token.encode()  # type: ignore[union-attr]
    assert int(client.get(redis_keys.lock_contention_count()) or 0) == 1


def test_a_redis_failure_when_giving_the_lease_back_ends_nothing(
    client: fakeredis.FakeRedis, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def broken(self: AccountLock) -> bool:
        raise ConnectError("redis: connection refused")

    monkeypatch.setattr(AccountLock, "release", broken)
    done = []
    for account_id in (1, 2):  # housekeeping goes on to the next account
        with hold(client, account_id, ttl_seconds=15, floor=0, host_locks=tmp_path) as held:
            assert held.busy is None
        done.append(account_id)
    assert done == [1, 2]
    with hold(client, 3, ttl_seconds=15, floor=0, host_locks=tmp_path) as held:
        assert held.busy is None  # the host lock files were given back all the same
