"""Watcher leases in Redis: one holder per account, renewal, loss, expiry of dead watchers."""

from __future__ import annotations

import time

import fakeredis
import pytest

from shared.watch_leases import WatchLeases, WatchMode, modes


@pytest.fixture
def client() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis(server=fakeredis.FakeServer())


def test_an_account_is_held_by_one_watcher_until_it_lets_go(client: fakeredis.FakeRedis) -> None:
    first = WatchLeases(client, "first", ttl_seconds=5)
    second = WatchLeases(client, "second", ttl_seconds=5)

    assert first.claim([1, 2]) == [1, 2]
    assert second.claim([1, 2, 3]) == [3]
    assert first.claim([1]) == [1]  # its own: renewed
    first.release([1])
    assert second.claim([1, 2]) == [1]


def test_renewal_names_the_leases_that_were_lost(client: fakeredis.FakeRedis) -> None:
    first = WatchLeases(client, "first", ttl_seconds=5)
    first.claim([1, 2])
    client.delete("mailpoll:watch:lease:2")  # expired, say, while the watcher was paused
    WatchLeases(client, "second", ttl_seconds=5).claim([2])

    assert first.renew([1, 2]) == [2]


def test_only_the_holder_records_the_mode_and_it_goes_with_the_lease(
    client: fakeredis.FakeRedis,
) -> None:
    first = WatchLeases(client, "first", ttl_seconds=5)
    second = WatchLeases(client, "second", ttl_seconds=5)
    first.claim([1])

    assert first.record(1, WatchMode("idle", "", "first", 1.0))
    assert not second.record(1, WatchMode("idle", "", "second", 1.0))
    assert modes(client, [1, 2]) == {1: WatchMode("idle", "", "first", 1.0)}
    first.release([1])
    assert modes(client, [1]) == {}


def test_a_watcher_that_stops_heartbeating_drops_out(client: fakeredis.FakeRedis) -> None:
    quick = WatchLeases(client, "quick", ttl_seconds=0.2)
    steady = WatchLeases(client, "steady", ttl_seconds=5)
    assert quick.heartbeat() == ["quick"]
    assert steady.heartbeat() == ["quick", "steady"]
    time.sleep(0.3)
    assert steady.heartbeat() == ["steady"]
    steady.leave()
    assert quick.heartbeat() == ["quick"]


def test_the_mode_reads_as_a_line() -> None:
    mode = WatchMode("connecting", "next try in 4s: refused", "host-1-ab", 0.0)
    assert mode.describe() == (
        "connecting since 1970-01-01 00:00:00 (watcher host-1-ab): next try in 4s: refused"
    )
