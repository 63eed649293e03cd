"""The Dramatiq broker and the Redis client, from the settings: a server, or embedded.

`mailpoll run` on a laptop gets an in-process Redis (fakeredis, with Lua) that the broker, the
locks and the schedule share; separate `scheduler` and `worker` processes need a real one.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage

from shared.errors import ConfigError
from shared.job_metrics import JobMetrics
from shared.settings import Settings


@dataclass(frozen=True)
class Backend:
    """The Redis client and the broker that one process uses."""

    redis: redis.Redis
    broker: dramatiq.Broker
    embedded: bool


def connect(settings: Settings, *, allow_embedded: bool) -> Backend:
    """The backend, with CurrentMessage so an actor knows how often it was retried, and the
    job figures of /metrics."""
    backend = _connect(settings, allow_embedded=allow_embedded)
    backend.broker.add_middleware(CurrentMessage())
    backend.broker.add_middleware(JobMetrics())
    return backend


def pika_url(url: str) -> str:
    """The URL with RabbitMQ's default vhost `/` spelled so that pika reads it.

    `amqp://host//` (kombu's and RabbitMQ's usual spelling) means the vhost `/`, but pika
    reads an empty vhost from it, which RabbitMQ refuses; `%2F` means `/` to both.
    """
    return ";".join(_default_vhost(part) for part in url.split(";"))


def _default_vhost(url: str) -> str:
    parts = urlsplit(url.strip())
    return parts._replace(path="/%2F").geturl() if parts.path == "//" else url.strip()


def _connect(settings: Settings, *, allow_embedded: bool) -> Backend:
    """Build the backend; without MAILPOLL_REDIS_URL only `mailpoll run` may embed one."""
    if settings.redis_url is None:
        if not allow_embedded:
            raise ConfigError(
                "MAILPOLL_REDIS_URL",
                "is not set: separate scheduler and worker processes share a Redis server "
                "(or use `mailpoll run` for one process with an embedded one)",
            )
        import fakeredis  # the embedded Redis: loaded only where it is used

        fake: redis.Redis = fakeredis.FakeRedis(server=fakeredis.FakeServer())
        return Backend(fake, RedisBroker(client=fake), embedded=True)  # type: ignore[no-untyped-call]
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=10, socket_connect_timeout=5)
    broker_url = settings.broker_url or settings.redis_url
    if broker_url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker  # pika, only for RabbitMQ

        return Backend(client, RabbitmqBroker(url=pika_url(broker_url)), embedded=False)
    if broker_url.startswith(("redis://", "rediss://", "unix://")):
        return Backend(client, RedisBroker(url=broker_url), embedded=False)  # type: ignore[no-untyped-call]
    raise ConfigError("MAILPOLL_BROKER_URL", "must start with redis:// or amqp://")
