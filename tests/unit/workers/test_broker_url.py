"""RabbitMQ URLs as users write them reach pika with the vhost they mean."""

from __future__ import annotations

import pika
import pytest

from workers.broker import pika_url


@pytest.mark.parametrize(
    ("url", "vhost"),
    [
        ("amqp://guest:guest@127.0.0.1:5672//", "/"),
        ("amqp://guest:guest@127.0.0.1:5672/%2F", "/"),
        ("amqp://guest:guest@127.0.0.1:5672/", "/"),
        ("amqp://guest:guest@127.0.0.1:5672", "/"),
        ("amqps://u:p@rabbit.example.com//?heartbeat=30", "/"),
        ("amqp://u:p@rabbit.example.com/mailpoll", "mailpoll"),
    ],
)
def test_the_default_vhost_spelled_with_two_slashes_is_the_default_vhost(
    url: str, vhost: str
) -> None:
    assert pika.URLParameters(pika_url(url)).virtual_host == vhost


def test_each_of_several_broker_urls_is_normalised() -> None:
    joined = pika_url("amqp://a.example.com//;amqp://b.example.com//?heartbeat=5")
    assert joined == "amqp://a.example.com/%2F;amqp://b.example.com/%2F?heartbeat=5"
