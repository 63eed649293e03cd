"""RabbitMQ as broker and event bus, as the figures see it: jobs waiting are counted from the
broker's queues, and an event RabbitMQ refuses (publisher confirms) is a failed publish, never
a silent loss; the events it takes are persistent."""

from __future__ import annotations

import json
from typing import Any

import pytest
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from kombu import Connection, Exchange, Queue
from prometheus_client import REGISTRY

from shared import jobs, metrics, redis_keys
from shared.errors import PublishError
from shared.eventbus import EventPublisher
from shared.events import EXCHANGE
from shared.queue_depth import queue_depths
from tests.support.processes import wait_until
from tests.support.rabbitmq import RabbitMQ
from workers.broker import pika_url

pytestmark = pytest.mark.integration


def test_jobs_waiting_are_counted_from_rabbitmq(rabbitmq: RabbitMQ) -> None:
    broker = RabbitmqBroker(url=pika_url(rabbitmq.url))
    try:
        broker.declare_queue(redis_keys.POLL_QUEUE)
        jobs.enqueue_polls(broker, [1, 2, 3])
        # Dramatiq publishes without confirms: RabbitMQ counts the jobs a moment later.
        wait_until(
            lambda: queue_depths(broker, [redis_keys.POLL_QUEUE], 0)[0].waiting == 3, 10, "3"
        )
        (poll,) = queue_depths(broker, [redis_keys.POLL_QUEUE], now_ms=0)
    finally:
        broker.close()
    assert (poll.queue, poll.waiting, poll.oldest_age_seconds) == (redis_keys.POLL_QUEUE, 3, None)


def event(number: int) -> dict[str, Any]:
    return {
        "specversion": "1.0", "type": "mailpoll.message.received", "id": str(number),
        "source": "mailpoll/accounts/a", "data": {"account": "a", "size": 10},
    }  # fmt: skip


def test_an_event_rabbitmq_refuses_is_a_failed_publish(rabbitmq: RabbitMQ) -> None:
    # A queue that takes one message and refuses the next: RabbitMQ nacks the second publish.
    full = Queue(
        "mailpoll-test-full", Exchange(EXCHANGE, type="topic", durable=True),
        routing_key="message.received.#", durable=True,
        queue_arguments={"x-max-length": 1, "x-overflow": "reject-publish"},
    )  # fmt: skip
    with Connection(rabbitmq.url) as connection:
        full(connection.default_channel).declare()
    failed = (
        REGISTRY.get_sample_value(
            "mailpoll_event_publish_failures_total", {"type": "message.received"}
        )
        or 0.0
    )
    with EventPublisher(rabbitmq.url) as publisher:
        with metrics.publishing([event(1)]):
            publisher.publish_many([event(1)])
        with pytest.raises(PublishError), metrics.publishing([event(2)]):
            publisher.publish_many([event(2)])
    assert (
        REGISTRY.get_sample_value(
            "mailpoll_event_publish_failures_total", {"type": "message.received"}
        )
        == failed + 1
    )
    with Connection(rabbitmq.url) as connection:
        taken = full(connection.default_channel).get(no_ack=True)
    assert taken is not None
    assert taken.properties["delivery_mode"] == 2  # persistent: it outlives a broker restart
    assert json.loads(taken.body)["id"] == "1"
