"""The pipeline's figures: failure kinds, events counted at publish, jobs counted by Dramatiq's
middleware, and the cluster figures read from the database and the broker's queues."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import dramatiq
import fakeredis
import pytest
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from prometheus_client import REGISTRY
from sqlmodel import Session

from shared import errors, jobs, metrics, redis_keys
from shared.accounts.service import AccountService
from shared.db.figures import cluster_figures
from shared.db.models import AccountStatus, DeadLetter
from shared.job_metrics import JobMetrics
from shared.queue_depth import queue_depths


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (errors.AuthenticationError("no"), "authentication"),
        (errors.TLSError("no"), "tls"),
        (errors.FolderError("no"), "folder"),
        (errors.SecretError("no"), "secret"),
        (errors.ConfigError("port", "no"), "configuration"),
        (errors.ConnectError("no"), "connection"),
        (errors.ServerTimeoutError("no"), "timeout"),
        (errors.ServerBusyError("no"), "server_busy"),
        (errors.PublishError("no"), "publish"),
        (errors.StoreError("no"), "store"),
        (errors.LockLostError("no"), "lock_lost"),
        (errors.MessageError("no"), "permanent"),
        (errors.TransientError("no"), "transient"),
        (errors.MailpollError("unexpected: KeyError()"), "unexpected"),
        (KeyError("x"), "unexpected"),
    ],
)
def test_every_failure_has_a_bounded_kind(error: BaseException, kind: str) -> None:
    assert metrics.failure_kind(error) == kind
    assert kind in metrics.FAILURE_KINDS


def received(size: int) -> dict[str, object]:
    return {"type": "mailpoll.message.received", "data": {"size": size}}


def test_published_events_are_counted_by_type_with_the_bytes_received() -> None:
    before = sample("mailpoll_received_bytes_total")
    sent = sample("mailpoll_events_published_total", type="message.sent")
    with metrics.publishing([received(100), received(23), {"type": "mailpoll.message.sent"}]):
        pass
    assert sample("mailpoll_received_bytes_total") == before + 123
    assert sample("mailpoll_events_published_total", type="message.sent") == sent + 1


def test_a_batch_that_cannot_be_published_counts_as_failed_and_the_error_goes_on() -> None:
    failed = sample("mailpoll_event_publish_failures_total", type="message.received")
    published = sample("mailpoll_events_published_total", type="message.received")
    with pytest.raises(errors.PublishError), metrics.publishing([received(1), received(2)]):
        raise errors.PublishError("down")
    assert sample("mailpoll_event_publish_failures_total", type="message.received") == failed + 2
    assert sample("mailpoll_events_published_total", type="message.received") == published


def test_a_busy_poll_counts_as_lock_contention() -> None:
    contention = sample("mailpoll_lock_contention_total")
    received_before = sample("mailpoll_messages_received_total")
    metrics.poll_ended("busy", 0.01, received=0, dead_lettered=0)
    metrics.poll_ended("polled", 0.5, received=7, dead_lettered=1)
    assert sample("mailpoll_lock_contention_total") == contention + 1
    assert sample("mailpoll_messages_received_total") == received_before + 7


@pytest.fixture
def stub() -> Iterator[StubBroker]:
    broker = StubBroker()
    broker.add_middleware(JobMetrics())
    broker.emit_after("process_boot")
    yield broker
    broker.close()


def test_jobs_are_counted_by_queue_and_outcome(stub: StubBroker) -> None:
    def fine() -> None:
        pass

    def broken() -> None:
        raise errors.ConnectError("down")

    queue = "test.metrics"
    for function in (fine, broken):
        dramatiq.actor(broker=stub, queue_name=queue, max_retries=0)(function)
    before = {o: sample("mailpoll_jobs_total", queue=queue, outcome=o) for o in ("done", "failed")}
    enqueued = sample("mailpoll_jobs_enqueued_total", queue=queue)
    for name in ("fine", "fine", "broken"):
        stub.get_actor(name).send()
    worker = dramatiq.Worker(stub, worker_timeout=10)
    worker.start()
    try:
        stub.join(queue, fail_fast=False)
        worker.join()
    finally:
        worker.stop()
    assert sample("mailpoll_jobs_enqueued_total", queue=queue) == enqueued + 3
    assert sample("mailpoll_jobs_total", queue=queue, outcome="done") == before["done"] + 2
    assert sample("mailpoll_jobs_total", queue=queue, outcome="failed") == before["failed"] + 1
    assert sample("mailpoll_jobs_in_progress", queue=queue) == 0
    assert sample("mailpoll_job_duration_seconds_count", queue=queue) >= 3


def test_queue_depth_and_the_age_of_the_oldest_job_come_from_the_redis_broker() -> None:
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    broker = RedisBroker(client=client)  # type: ignore[no-untyped-call]
    jobs.enqueue_polls(broker, [1, 2, 3])
    first = json.loads(next(iter(client.hvals(f"dramatiq:{redis_keys.POLL_QUEUE}.msgs"))))
    now_ms = int(first["message_timestamp"]) + 90_000

    poll, send = queue_depths(broker, [redis_keys.POLL_QUEUE, redis_keys.SEND_QUEUE], now_ms)

    assert (poll.waiting, send.waiting) == (3, 0)
    assert poll.oldest_age_seconds == pytest.approx(90, abs=1)
    assert send.oldest_age_seconds is None
    assert poll.dead == 0


def test_cluster_figures_add_up_the_accounts(session: Session, service: AccountService) -> None:
    base = {"type": "inbound", "host": "imap.example.com", "login": "u", "password": "p"}
    ids = [int(service.add({**base, "name": f"a{n}"}).account.id or 0) for n in range(3)]
    service.add({**base, "name": "off", "enabled": False})
    oldest = datetime(2026, 1, 1, tzinfo=UTC)
    session.add(AccountStatus(account_id=ids[0], consecutive_failures=2,
                              last_error_kind="authentication"))  # fmt: skip
    session.add(AccountStatus(account_id=ids[1], messages_waiting=40, oldest_waiting_at=oldest))
    session.add(AccountStatus(account_id=ids[2], messages_waiting=2,
                              oldest_waiting_at=oldest + timedelta(days=1)))  # fmt: skip
    for uid, dead in ((1, True), (2, False)):
        moment = {"first_failed_at": oldest, "last_failed_at": oldest}
        session.add(DeadLetter(account_id=ids[1], folder="INBOX", uid=uid, error="x", dead=dead,
                               **moment))  # fmt: skip
    session.flush()

    figures = cluster_figures(session)

    assert figures.enabled_inbound == 3
    assert figures.failing == {"authentication": 1}
    assert (figures.mail_waiting, figures.oldest_waiting_at) == (42, oldest)
    assert figures.dead_letters == 1
