"""The pipeline with RabbitMQ as the Dramatiq broker and as the event bus (publisher confirms,
persistent messages): polls, events and a queued send, end to end."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.accounts.service import AccountService
from shared.secrets import SecretBox
from shared.settings import Settings
from shared.system_settings import SystemSettings
from tests.support import corpus
from tests.support.cluster import Cluster
from tests.support.dovecot import DovecotServer
from tests.support.processes import MAILPOLL, wait_until
from tests.support.rabbitmq import RabbitMQ
from tests.support.smtp_server import SmtpServer

pytestmark = pytest.mark.integration


@pytest.fixture
def cluster(tmp_path: Path, redis_url: str, rabbitmq: RabbitMQ) -> Iterator[Cluster]:
    cluster = Cluster(tmp_path, redis_url, rabbitmq.url, broker_url=rabbitmq.url)
    yield cluster
    cluster.close()


def test_polls_events_and_sends_go_through_rabbitmq(
    cluster: Cluster, dovecot: DovecotServer, tmp_path: Path
) -> None:
    user = dovecot.new_user()
    cluster.add_account(dovecot, user, "secret", max_batch=3)
    cluster.start("scheduler", "--tick", "0.2")
    cluster.start("worker", "--threads", "2")
    for n in range(7):
        dovecot.append(user, corpus.plain(f"rabbit {n}"))

    wait_until(lambda: cluster.ledger_count(user) == 7, 60, "7 messages polled")
    wait_until(lambda: len(cluster.events) >= 7, 20, "7 events from RabbitMQ")

    assert sorted(e["data"]["uid"] for e in cluster.events) == sorted(dovecot.messages(user))
    assert len({e["id"] for e in cluster.events}) == 7

    with SmtpServer() as smtp:
        box = SecretBox(cluster.key)
        with cluster.database.session() as session:
            AccountService(session, secrets=lambda: box, actor="t").add(
                {"name": "relay", "type": "outbound", "host": smtp.host, "port": smtp.port,
                 "encryption": "none", "auth_type": "none"}
            )  # fmt: skip
            SystemSettings(session, Settings(), actor="t").set(
                "system_email_address", "mailpoll@example.com"
            )
        queued = subprocess.run(
            [*MAILPOLL, "send", "--to", "ops@example.com", "--subject", "via rabbit",
             "--body", "queued on RabbitMQ", "--no-wait"],
            env=cluster.env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert queued.returncode == 0, queued.stderr
        wait_until(lambda: len(smtp.received) == 1, 30, "the queued mail to go out")
    assert b"queued on RabbitMQ" in smtp.received[0].raw
