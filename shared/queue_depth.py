"""How many jobs wait in the broker's queues and how old the oldest is, for /metrics.

Read from Dramatiq's own Redis keys (`<namespace>:<queue>` lists the waiting message ids, the
first is the oldest; `<namespace>:<queue>.msgs` holds the messages; `.XQ` the dead ones), the
same list that KEDA's Redis scaler reads. A RabbitMQ broker answers the count only (its own
Prometheus plugin has the rest).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import dramatiq
import redis
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker


@dataclass(frozen=True)
class QueueDepth:
    queue: str
    waiting: int
    oldest_age_seconds: float | None = None  # None: empty, or the broker cannot say
    dead: int | None = None


def queue_depths(broker: dramatiq.Broker, queues: Sequence[str], now_ms: int) -> list[QueueDepth]:
    """Each queue's figures; a broker of another kind gives nothing."""
    if isinstance(broker, RedisBroker):
        return [_redis_depth(broker.client, broker.namespace, queue, now_ms) for queue in queues]
    if isinstance(broker, RabbitmqBroker):
        return [QueueDepth(queue, broker.get_queue_message_counts(queue)[0]) for queue in queues]
    return []


def _redis_depth(client: redis.Redis, namespace: str, queue: str, now_ms: int) -> QueueDepth:
    name = f"{namespace}:{queue}"
    pipe = client.pipeline(transaction=False)
    pipe.llen(name)
    pipe.lindex(name, 0)
    pipe.zcard(f"{name}.XQ")
    waiting, first, dead = pipe.execute()
    age = None
    if first is not None:
        raw = client.hget(f"{name}.msgs", first)
        if raw is not None:  # taken by a worker meanwhile
            age = max(0.0, (now_ms - int(json.loads(raw)["message_timestamp"])) / 1000)
    return QueueDepth(queue, int(waiting), age, int(dead))
