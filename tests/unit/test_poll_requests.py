"""Polls asked for by push: one queued poll per account, asked again while one runs."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import fakeredis
import pytest
import redis
from dramatiq.brokers.stub import StubBroker
from redis.backoff import NoBackoff
from redis.retry import Retry

from shared import poll_requests, redis_keys
from shared.clock import utcnow
from shared.db.database import Database
from shared.poll_requests import PollRequests
from shared.store import MessageStore
from tests.support.fake_mailbox import FakeMailbox
from tests.support.ports import free_port
from workers import actors
from workers.poll import PollDeps
from workers.send import SendDeps


@pytest.fixture
def client() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis(server=fakeredis.FakeServer())


def test_a_burst_of_requests_queues_one_poll_until_the_poll_starts(
    client: fakeredis.FakeRedis,
) -> None:
    queued: list[int] = []
    requests = PollRequests(client, queued.append)

    outcomes = [requests.request(7) for _ in range(5)]

    assert outcomes == ["enqueued"] + ["queued"] * 4
    assert queued == [7]
    poll_requests.taken(client, 7)  # the poll job starts
    assert requests.request(7) == "enqueued"
    assert queued == [7, 7]


def test_a_request_while_a_poll_runs_is_asked_again_later(client: fakeredis.FakeRedis) -> None:
    queued: list[int] = []
    requests = PollRequests(client, queued.append)
    client.set(redis_keys.account_lock(7), "some worker")

    assert requests.request(7) == "polling"
    client.delete(redis_keys.account_lock(7))
    assert requests.request(7) == "enqueued"
    assert queued == [7]


def test_a_failed_enqueue_leaves_no_marker_behind(client: fakeredis.FakeRedis) -> None:
    def broken(_account_id: int) -> None:
        raise ConnectionError("broker down")

    with pytest.raises(ConnectionError):
        PollRequests(client, broken).request(7)
    assert client.get(redis_keys.poll_enqueued(7)) is None


def test_the_poll_actor_clears_the_marker_when_its_job_starts(
    client: fakeredis.FakeRedis, database: Database, tmp_path: Path
) -> None:
    broker = StubBroker()
    broker.emit_after("process_boot")
    deps = PollDeps(
        database=database, redis=client, store=MessageStore(tmp_path), publish=print,
        open_mailbox=lambda _account: FakeMailbox(), clock=utcnow, enqueue_next=print,
        postpone=print,
    )  # fmt: skip
    actors.register(broker, deps, cast(SendDeps, None))
    requests = PollRequests(client, lambda _id: None)
    assert requests.request(7) == "enqueued"

    broker.get_actor(redis_keys.POLL_ACTOR).fn(7)  # no account 7: the poll is skipped

    assert client.get(redis_keys.poll_enqueued(7)) is None
    assert requests.request(7) == "enqueued"


def test_a_scheduled_poll_is_not_queued_beside_a_waiting_push_poll_and_covers_push_requests(
    client: fakeredis.FakeRedis,
) -> None:
    pushed: list[int] = []
    scheduled: list[list[int]] = []
    requests = PollRequests(client, pushed.append)
    assert requests.request(7) == "enqueued"  # a push poll of account 7 waits

    enqueued = poll_requests.enqueue_scheduled(client, [7, 8], lambda ids: scheduled.append([*ids]))

    assert enqueued == [8]
    assert scheduled == [[8]]
    assert requests.request(8) == "queued"  # the scheduled poll of 8 lists the folder later
    poll_requests.taken(client, 8)  # its job starts
    assert requests.request(8) == "enqueued"
    assert pushed == [7, 8]


def test_a_failed_scheduled_enqueue_leaves_no_marker_and_without_redis_every_poll_goes(
    client: fakeredis.FakeRedis,
) -> None:
    def broken(_ids: object) -> None:
        raise ConnectionError("broker down")

    with pytest.raises(ConnectionError):
        poll_requests.enqueue_scheduled(client, [7, 8], broken)
    assert client.get(redis_keys.poll_enqueued(7)) is None
    assert client.get(redis_keys.poll_enqueued(8)) is None

    gone = redis.Redis(port=free_port(), retry=Retry(NoBackoff(), 0))  # nothing listens
    scheduled: list[list[int]] = []
    assert poll_requests.enqueue_scheduled(gone, [7, 8], lambda ids: scheduled.append([*ids])) == [
        7,
        8,
    ]
    assert scheduled == [[7, 8]]
