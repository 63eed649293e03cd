"""Polls asked for by push: one queued poll per account, asked again while one runs."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import fakeredis
import pytest
from dramatiq.brokers.stub import StubBroker

from shared import poll_requests, redis_keys
from shared.clock import utcnow
from shared.db.database import Database
from shared.poll_requests import PollRequests
from shared.store import MessageStore
from tests.support.fake_mailbox import FakeMailbox
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
