"""mailpoll as a cluster of real processes: concurrent workers and schedulers, crashes, restarts."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import Counter
from typing import Any

import pytest

from tests.support import corpus
from tests.support.cluster import Cluster
from tests.support.dovecot import DovecotServer
from tests.support.processes import poll_spans, wait_until
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.integration


def event_uids(events: list[dict[str, Any]], user: str) -> Counter[int]:
    return Counter(e["data"]["uid"] for e in events if e["data"]["account"] == user)


def test_two_workers_and_two_schedulers_never_poll_one_account_at_once(
    cluster: Cluster, dovecot: DovecotServer
) -> None:
    users = [dovecot.new_user() for _ in range(3)]
    for user in users:
        cluster.add_account(dovecot, user, "secret", max_batch=5)
    for _ in range(2):
        cluster.start("scheduler", "--tick", "0.2")
        cluster.start("worker", "--threads", "4")
    for round_ in range(4):
        for user in users:
            for n in range(6):
                dovecot.append(user, corpus.plain(f"{user} {round_} {n}"))
        threading.Event().wait(0.7)

    for user in users:
        wait_until(lambda u=user: cluster.ledger_count(u) == 24, 60, f"24 messages of {user}")
    wait_until(lambda: len(cluster.events) >= 72, 10, "72 events")

    for user in users:
        counts = event_uids(cluster.events, user)
        assert sorted(counts) == sorted(dovecot.messages(user)), cluster.logs()
        assert set(counts.values()) == {1}, f"duplicate events for {user}"
    spans = poll_spans([p.log() for p in cluster.processes if p.args[0] == "worker"])
    assert sum(len(s) for s in spans.values()) >= 6, cluster.logs()
    for user, polls in spans.items():
        polls.sort()
        for (_, end, fence), (start, _, next_fence) in itertools.pairwise(polls):
            assert end <= start, f"{user}: polls with fences {fence} and {next_fence} overlap"
            assert next_fence > fence


def test_a_worker_killed_mid_batch_loses_nothing_and_repeats_with_the_same_ids(
    cluster: Cluster, dovecot: DovecotServer
) -> None:
    user = dovecot.new_user()
    total = 400
    for n in range(total):
        dovecot.append(user, corpus.plain(f"bulk {n}", body="x" * 2000 + "\r\n"))
    cluster.add_account(
        dovecot, user, "secret", max_batch=1000, on_email_received="delete",
        properties="fetch_chunk=10",
    )  # fmt: skip
    cluster.start("scheduler", "--tick", "0.2")
    worker = cluster.start("worker", "--threads", "1")
    wait_until(lambda: len(cluster.events) >= 30, 60, "the first events")
    worker.kill()  # SIGKILL in the middle of the batch
    announced_before = set(event_uids(cluster.events, user))
    gone = set(range(1, total + 1)) - set(dovecot.messages(user))
    assert gone <= announced_before, "mail was deleted from the server before its event"
    assert len(announced_before) < total, "the batch ended before the kill: make it larger"

    cluster.start("worker", "--threads", "1")
    wait_until(lambda: dovecot.messages(user) == {}, 90, "every message handled and deleted")
    wait_until(lambda: set(event_uids(cluster.events, user)) == set(range(1, total + 1)), 10, "all")

    ids_by_uid: dict[int, set[str]] = {}
    for event in cluster.events:
        ids_by_uid.setdefault(event["data"]["uid"], set()).add(event["id"])
    assert all(len(ids) == 1 for ids in ids_by_uid.values()), "a repeat had another id"
    assert cluster.ledger_count(user) == total


def test_polling_resumes_after_redis_and_dovecot_restart(
    cluster: Cluster, dovecot: DovecotServer, redis_server: RedisServer
) -> None:
    user = dovecot.new_user()
    cluster.add_account(dovecot, user, "secret")
    cluster.start("scheduler", "--tick", "0.2")
    cluster.start("worker", "--threads", "2")
    dovecot.append(user, corpus.plain("before"))
    wait_until(lambda: cluster.ledger_count(user) == 1, 30, "the first message")

    redis_server.restart()  # locks, schedule and queued jobs are gone
    dovecot.append(user, corpus.plain("after redis"))
    wait_until(lambda: cluster.ledger_count(user) == 2, 60, "a poll after the Redis restart")

    dovecot.restart()
    dovecot.append(user, corpus.plain("after dovecot"))
    wait_until(lambda: cluster.ledger_count(user) == 3, 90, "a poll after the Dovecot restart")

    wait_until(lambda: len(event_uids(cluster.events, user)) == 3, 10, "three events")
    assert json.dumps(cluster.events).count('"after dovecot"') == 1


def test_sigterm_finishes_the_chunk_in_flight_and_hands_the_rest_over(
    cluster: Cluster, dovecot: DovecotServer
) -> None:
    user = dovecot.new_user()
    total = 300
    for n in range(total):
        dovecot.append(user, corpus.plain(f"term {n}", body="y" * 2000 + "\r\n"))
    cluster.add_account(dovecot, user, "secret", max_batch=1000, properties="fetch_chunk=10")
    cluster.start("scheduler", "--tick", "0.2")
    worker = cluster.start("worker", "--threads", "1")
    wait_until(lambda: len(cluster.events) >= 20, 60, "the first events")

    assert worker.stop(timeout=30) == 0, worker.log()

    assert "poll ended" in worker.log()
    taken = cluster.ledger_count(user)
    assert taken % 10 == 0  # whole chunks: the one in flight finished, no half chunk
    assert "more waiting" in worker.log() or taken == total  # the rest is handed over
    cluster.start("worker", "--threads", "1")
    wait_until(lambda: cluster.ledger_count(user) == total, 60, "the rest, by the next worker")
    wait_until(lambda: len(event_uids(cluster.events, user)) == total, 10, "every event")
    assert set(event_uids(cluster.events, user).values()) == {1}


def test_a_killed_workers_account_is_polled_again_within_20_seconds(
    cluster: Cluster, dovecot: DovecotServer
) -> None:
    del cluster.env["MAILPOLL_LOCK_TTL_SECONDS"]  # the lease as shipped
    user = dovecot.new_user()
    total = 300
    for n in range(total):
        dovecot.append(user, corpus.plain(f"resume {n}", body="z" * 2000 + "\r\n"))
    cluster.add_account(dovecot, user, "secret", max_batch=1000, properties="fetch_chunk=10")
    cluster.start("scheduler", "--tick", "0.2")
    worker = cluster.start("worker", "--threads", "1")
    wait_until(lambda: len(cluster.events) >= 20, 60, "the first events")
    worker.kill()  # SIGKILL: its lease is not given back, it has to run out
    killed = time.monotonic()
    assert cluster.ledger_count(user) < total, "the batch ended before the kill: make it larger"

    second = cluster.start("worker", "--threads", "1")
    wait_until(lambda: "poll started" in second.log(), 30, "the next poll of the account")

    resumed = time.monotonic() - killed
    print(f"the account was polled again {resumed:.1f} s after its worker was killed")
    assert resumed < 20, second.log()
    wait_until(lambda: cluster.ledger_count(user) == total, 60, "every message")
