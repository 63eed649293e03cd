"""The metrics and health endpoints of real worker and scheduler processes, scraped while they
poll a real Dovecot: the figures move as the mail and the failures do."""

from __future__ import annotations

import json
import os
import signal
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import corpus
from tests.support.cluster import Cluster
from tests.support.dovecot import DovecotServer
from tests.support.ports import free_port
from tests.support.processes import MailpollProcess, wait_until
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.integration
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def cluster(tmp_path: Path, redis_url: str) -> Iterator[Cluster]:
    events = RedisServer()
    events.start()
    cluster = Cluster(tmp_path, redis_url, events.url)
    yield cluster
    cluster.close()
    events.cleanup()


def start_with_port(cluster: Cluster, *args: str) -> tuple[MailpollProcess, str]:
    port = free_port()
    cluster.env["MAILPOLL_METRICS_PORT"] = str(port)
    process = cluster.start(*args)
    return process, f"http://127.0.0.1:{port}"


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310  (http://127.0.0.1)
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def answers(url: str) -> bool:
    try:
        return get(url + "/healthz")[0] == 200
    except OSError:
        return False


def scrape(base: str) -> Samples:
    status, body = get(base + "/metrics")
    assert status == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_scraped_figures_follow_the_mail_and_the_failures(
    cluster: Cluster, dovecot: DovecotServer
) -> None:
    good, wrong, unreachable = dovecot.new_user(), dovecot.new_user(), dovecot.new_user()
    cluster.add_account(dovecot, good, "secret")
    cluster.add_account(dovecot, wrong, "not-the-password", polling_interval=3600)
    cluster.add_account(dovecot, unreachable, "secret", port=free_port(), polling_interval=3600)
    _, scheduler = start_with_port(cluster, "scheduler", "--tick", "0.2")
    # Two worker processes: the parent serves the sum of both.
    _, worker = start_with_port(cluster, "worker", "--processes", "2", "--threads", "2")
    wait_until(lambda: answers(worker) and answers(scheduler), 60, "the endpoints")

    before = scrape(worker)
    first = [corpus.plain(f"metrics {n}") for n in range(5)]
    for raw in first:
        dovecot.append(good, raw)
    wait_until(lambda: cluster.ledger_count(good) == 5, 60, "5 messages polled")
    wait_until(
        lambda: value(scrape(worker), "mailpoll_messages_received_total") == 5, 10, "5 counted"
    )
    second = [corpus.plain(f"more {n}") for n in range(3)]
    for raw in second:
        dovecot.append(good, raw)
    wait_until(lambda: cluster.ledger_count(good) == 8, 60, "3 more messages polled")
    wait_until(
        lambda: value(scrape(worker), "mailpoll_messages_received_total") == 8, 10, "8 counted"
    )

    def failed(kind: str) -> bool:  # a login refused takes Dovecot a moment
        return value(scrape(worker), "mailpoll_poll_failures_total", kind=kind) >= 1

    wait_until(lambda: failed("authentication") and failed("connection"), 30, "both failures")
    after = scrape(worker)
    assert value(before, "mailpoll_messages_received_total") == 0
    wait_until(lambda: len(cluster.events) == 8, 10, "8 events")
    sizes = sum(event["data"]["size"] for event in cluster.events)  # as stored: CRLF lines
    assert value(after, "mailpoll_received_bytes_total") == sizes
    assert value(after, "mailpoll_events_published_total", type="message.received") == 8
    assert value(after, "mailpoll_polls_total", outcome="failed") >= 2
    assert value(after, "mailpoll_polls_total", outcome="polled") >= 2
    assert value(after, "mailpoll_poll_duration_seconds_count", outcome="polled") >= 2
    assert value(after, "mailpoll_jobs_total", queue="mailpoll.poll", outcome="done") >= 4
    assert not any(labels for (name, labels) in after if "account" in dict(labels)), (
        "no per-account series"
    )

    def refused_accounts() -> float:  # figures read at most every 10 s
        return value(scrape(scheduler), "mailpoll_accounts_failing", kind="authentication")

    wait_until(lambda: refused_accounts() == 1, 30, "the refused account in the cluster figures")
    cluster_wide = scrape(scheduler)
    assert value(cluster_wide, "mailpoll_accounts_enabled") == 3
    assert value(cluster_wide, "mailpoll_schedule_lag_seconds_count") >= 3
    assert value(cluster_wide, "mailpoll_jobs_enqueued_total", queue="mailpoll.poll") >= 3
    assert ("mailpoll_queue_messages", (("queue", "mailpoll.poll"),)) in cluster_wide
    for base in (worker, scheduler):
        status, body = get(base + "/readyz")
        assert status == 200
        assert json.loads(body) == {"status": "ok", "checks": {"database": None, "redis": None}}


def test_a_worker_process_that_died_fails_the_liveness_probe(cluster: Cluster) -> None:
    parent, worker = start_with_port(cluster, "worker", "--processes", "2", "--threads", "1")
    wait_until(lambda: answers(worker), 60, "the worker's endpoints")
    assert parent.process is not None
    pid = parent.process.pid
    wait_until(lambda: len(worker_pids(pid)) == 2, 30, "two worker processes")
    os.kill(worker_pids(pid)[0], signal.SIGKILL)

    wait_until(lambda: get(worker + "/healthz")[0] == 503, 10, "liveness failing")
    body = json.loads(get(worker + "/healthz")[1])
    assert body == {"status": "failing", "checks": {"worker": "worker: processes: 1 of 2 ended"}}


def worker_pids(parent: int) -> list[int]:
    """The spawned worker processes of `parent` (not multiprocessing's resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent and is_worker(entry):
                found.append(int(entry.name))
    return found


def is_worker(process: Path) -> bool:
    try:
        return b"resource_tracker" not in (process / "cmdline").read_bytes()
    except OSError:
        return False


def test_watcher_web_and_run_answer_their_probes_with_their_figures(cluster: Cluster) -> None:
    roles = {
        "watcher": (["watcher"], "mailpoll_watcher_accounts"),
        "web": (["web", "--port", str(free_port())], "mailpoll_http_requests_total"),
        "run": (["run", "--no-web", "--quiet"], "mailpoll_accounts_enabled"),
    }
    bases = {name: start_with_port(cluster, *args)[1] for name, (args, _) in roles.items()}
    for name, base in bases.items():
        wait_until(lambda b=base: answers(b), 60, f"the {name} endpoints")
    for name, (_, figure) in roles.items():
        status, body = get(bases[name] + "/readyz")
        assert status == 200, (name, body)
        assert figure in get(bases[name] + "/metrics")[1].decode(), name
    status, body = get(bases["web"] + "/healthz")
    assert (status, json.loads(body)) == (200, {"status": "ok", "checks": {}})
