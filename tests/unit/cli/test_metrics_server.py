"""The endpoints on MAILPOLL_METRICS_PORT: figures, liveness and readiness answers, a taken
port as one line; the checks and collectors behind them."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import fakeredis
import pytest
from dramatiq.brokers.redis import RedisBroker
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.parser import text_string_to_metric_families

from mailpoll import health
from mailpoll.metrics_server import MetricsServer, Probes
from shared import jobs
from shared.db.database import Database
from shared.errors import ConfigError


def get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture
def registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    Counter("mailpoll_test_things", "things", registry=registry).inc(3)
    return registry


@pytest.fixture
def server(registry: CollectorRegistry) -> Iterator[MetricsServer]:
    def broken() -> str | None:
        raise RuntimeError("boom")

    probes = Probes(
        registry,
        live={"loop": lambda: None},
        ready={"database": lambda: "database: connection refused", "broken": broken},
    )
    server = MetricsServer(probes, host="127.0.0.1", port=0)
    yield server
    server.stop()


def test_metrics_are_served_in_prometheus_text(server: MetricsServer) -> None:
    status, body = get(server.port, "/metrics")
    assert status == 200
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    assert families["mailpoll_test_things"].samples[0].value == 3


def test_health_answers_say_each_check_and_fail_with_503(server: MetricsServer) -> None:
    assert get(server.port, "/healthz") == (200, b'{"status": "ok", "checks": {"loop": null}}')
    status, body = get(server.port, "/readyz")
    assert status == 503
    assert json.loads(body) == {
        "status": "failing",
        "checks": {
            "database": "database: connection refused",
            "broken": "broken: check failed: RuntimeError('boom')",
        },
    }
    assert get(server.port, "/other")[0] == 404


def test_a_taken_port_is_one_line_naming_the_setting(server: MetricsServer) -> None:
    with pytest.raises(ConfigError, match=r"^MAILPOLL_METRICS_PORT: cannot listen on 127\.0\.0\.1"):
        MetricsServer(Probes(CollectorRegistry()), host="127.0.0.1", port=server.port)


def test_a_loop_that_stopped_going_round_fails_liveness() -> None:
    last: list[float | None] = [None]
    check = health.recent("loop", lambda: last[0], within=60)
    assert check() is None  # not begun yet
    last[0] = time.time() - 5
    assert check() is None
    last[0] = time.time() - 90
    assert check() == "loop: nothing for 90 s"


def test_an_ended_thread_fails_liveness() -> None:
    done = threading.Thread(target=lambda: None)
    done.start()
    done.join()
    running = threading.Event()
    alive = threading.Thread(target=running.wait, daemon=True)
    alive.start()
    try:
        assert health.threads_alive("worker", lambda: [alive])() is None
        assert health.threads_alive("worker", lambda: [alive, done])() == "worker: 1 of 2 ended"
    finally:
        running.set()


def test_readiness_names_what_does_not_answer(database: Database) -> None:
    assert health.database_check(database)() is None
    dead = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    dead.connection_pool.connection_kwargs["server"].connected = False
    assert str(health.redis_check(dead)()).startswith("redis: ")


def test_the_cluster_collector_reads_at_most_once_per_interval(database: Database) -> None:
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    broker = RedisBroker(client=client)  # type: ignore[no-untyped-call]
    collector = health.ClusterCollector(database, broker, max_age=60)
    jobs.enqueue_polls(broker, [1, 2])

    def waiting() -> float:
        families = {m.name: m for m in collector.collect()}
        return next(s.value for s in families["mailpoll_queue_messages"].samples
                    if s.labels == {"queue": "mailpoll.poll"})  # fmt: skip

    assert waiting() == 2
    jobs.enqueue_polls(broker, [3])
    assert waiting() == 2  # the figures of the last read, within max_age


def test_the_worker_gives_the_polls_in_flight_the_grace_it_is_told(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--grace` is what a Deployment matches its terminationGracePeriodSeconds to."""
    from mailpoll.cli import main, pipeline

    told: list[float] = []
    monkeypatch.setattr(pipeline, "_work", lambda app, threads, grace: told.append(grace))
    monkeypatch.setenv("MAILPOLL_DATA_DIR", str(tmp_path))
    assert main.main(["worker", "--grace", "300"]) == 0
    assert main.main(["worker"]) == 0
    assert told == [300.0, 60.0]
    assert main.main(["worker", "--grace", "0"]) == 2
    assert "--grace" in capsys.readouterr().err
