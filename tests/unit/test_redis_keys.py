"""Every Redis key is namespaced, distinct per account, and the queue names are stable."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from shared import redis_keys

PER_ACCOUNT: list[Callable[[int], str]] = [
    redis_keys.account_lock,
    redis_keys.lock_fence,
    redis_keys.poll_enqueued,
]
GLOBAL: list[Callable[[], str]] = [
    redis_keys.lock_contention_count,
    redis_keys.schedule,
    redis_keys.schedule_intervals,
    redis_keys.schedule_seen,
]


@pytest.mark.parametrize("build", PER_ACCOUNT)
def test_per_account_keys_are_namespaced_and_name_the_account(build: Callable[[int], str]) -> None:
    assert build(7).startswith("mailpoll:")
    assert build(7).endswith(":7")
    assert build(7) != build(17)


def test_all_keys_are_distinct() -> None:
    built = [build(1) for build in PER_ACCOUNT] + [build() for build in GLOBAL]
    assert all(key.startswith("mailpoll:") for key in built)
    assert len(set(built)) == len(built)


def test_queue_and_actor_names_are_the_ones_workers_declare() -> None:
    assert redis_keys.POLL_QUEUE == "mailpoll.poll"
    assert redis_keys.POLL_ACTOR == "poll_account"
    assert redis_keys.SEND_QUEUE == "mailpoll.send"
    assert redis_keys.SEND_ACTOR == "send_message"
    assert redis_keys.HOUSEKEEPING_QUEUE == "mailpoll.housekeeping"
    assert redis_keys.HOUSEKEEPING_ACTOR == "housekeeping"
