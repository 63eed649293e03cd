"""Polls enqueued in one batch on a real Redis broker reach a Dramatiq worker like single ones."""

from __future__ import annotations

import threading
import time

import dramatiq
import pytest
from dramatiq.brokers.redis import RedisBroker

from shared import jobs, poll_requests, redis_keys
from shared.poll_requests import PollRequests

pytestmark = pytest.mark.integration


def test_a_batch_of_polls_is_delivered_to_the_poll_actor_once_each(redis_url: str) -> None:
    broker = RedisBroker(url=redis_url)
    received: list[int] = []
    lock = threading.Lock()

    def poll(account_id: int) -> None:
        with lock:
            received.append(account_id)

    dramatiq.actor(
        broker=broker, actor_name=redis_keys.POLL_ACTOR, queue_name=redis_keys.POLL_QUEUE
    )(poll)
    enqueued: list[str] = []
    broker.add_middleware(_Recorder(enqueued))
    jobs.enqueue_polls(broker, list(range(1, 201)))
    jobs.enqueue_poll(broker, 201)
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=100)
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while len(received) < 201 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
        broker.close()
    assert sorted(received) == list(range(1, 202))
    assert len(enqueued) == 201  # middleware saw every message of the batch


class _Recorder(dramatiq.Middleware):
    def __init__(self, seen: list[str]) -> None:
        self.seen = seen

    def after_enqueue(
        self, broker: dramatiq.Broker, message: dramatiq.Message[None], delay: int | None
    ) -> None:
        self.seen.append(message.message_id)


def test_a_due_poll_is_not_queued_beside_a_waiting_push_poll(redis_url: str) -> None:
    """Push and schedule share the queued-poll marker on a real Redis and broker."""
    broker = RedisBroker(url=redis_url)
    client = broker.client
    client.delete(*(redis_keys.poll_enqueued(account_id) for account_id in (7, 8)))
    queue = f"dramatiq:{redis_keys.POLL_QUEUE}"
    client.delete(queue, f"{queue}.msgs")
    try:
        push = PollRequests(client, lambda account_id: jobs.enqueue_poll(broker, account_id))
        assert push.request(7) == "enqueued"

        enqueued = poll_requests.enqueue_scheduled(
            client, [7, 8], lambda fresh: jobs.enqueue_polls(broker, fresh)
        )

        assert enqueued == [8]
        assert push.request(8) == "queued"
        assert client.llen(queue) == 2  # one poll of 7 (push), one of 8 (schedule)
    finally:
        client.delete(queue, f"{queue}.msgs")
        broker.close()
