"""The send actor: transient failures retried by Dramatiq, then one `message.failed`; permanent
ones (`throws`) never retried."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker

from shared import redis_keys
from shared.errors import ConnectError, PermanentError
from workers import actors
from workers.poll import PollDeps
from workers.send import SendDeps, SendRequest

REQUEST = SendRequest(to=["bob@example.com"], subject="s", body="b")


@pytest.fixture
def broker() -> Iterator[StubBroker]:
    broker = StubBroker()
    broker.emit_after("process_boot")
    yield broker
    broker.close()


def run_send(
    broker: StubBroker, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> tuple[int, list[tuple[SendRequest, str]]]:
    """Send once through the actors, `send_mail` always failing with `error`; returns the tries
    and the gave-up announcements."""
    tries: list[SendRequest] = []
    gave_up: list[tuple[SendRequest, str]] = []

    def failing(request: SendRequest, deps: SendDeps) -> None:
        tries.append(request)
        raise error

    monkeypatch.setattr(actors, "send_mail", failing)
    monkeypatch.setattr(actors, "announce_gave_up", lambda d, r, e: gave_up.append((r, e)))
    actors.register(broker, cast(PollDeps, None), cast(SendDeps, None))
    send: dramatiq.Actor[Any, Any] = broker.get_actor(redis_keys.SEND_ACTOR)
    send.options.update(min_backoff=1, max_backoff=5)  # the retries, without their waits
    send.send(REQUEST.payload())
    worker = dramatiq.Worker(broker, worker_timeout=10)
    worker.start()
    try:
        broker.join(redis_keys.SEND_QUEUE, fail_fast=False)
        worker.join()
    finally:
        worker.stop()
    return len(tries), gave_up


def test_a_transient_failure_is_retried_then_announced_once(
    broker: StubBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    tries, gave_up = run_send(broker, monkeypatch, ConnectError("smtp: connection refused"))
    assert tries == actors.MAX_SEND_RETRIES + 1
    assert gave_up == [(REQUEST, "smtp: connection refused")]


def test_a_permanent_failure_is_not_retried(
    broker: StubBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    tries, gave_up = run_send(broker, monkeypatch, PermanentError("smtp: 550 no such user"))
    assert tries == 1
    assert gave_up == []


def test_the_last_error_is_read_from_the_traceback() -> None:
    traceback = "Traceback (most recent call last):\n  ...\nshared.errors.ConnectError: smtp: x\n"
    assert actors.last_error(traceback) == "smtp: x"
    assert actors.last_error(None) == "the send kept failing"
