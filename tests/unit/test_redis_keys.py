"""Every Redis key is namespaced, distinct per account, and the queue names are stable."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from shared import keys

PER_ACCOUNT: list[Callable[[int], str]] = [keys.account_lock, keys.lock_fence, keys.poll_enqueued]
GLOBAL: list[Callable[[], str]] = [
    keys.lock_contention_count,
    keys.schedule,
    keys.schedule_intervals,
    keys.schedule_seen,
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
    assert keys.POLL_QUEUE == "mailpoll.poll"
    assert keys.POLL_ACTOR == "poll_account"
    assert keys.SEND_QUEUE == "mailpoll.send"
    assert keys.SEND_ACTOR == "send_message"
    assert keys.HOUSEKEEPING_QUEUE == "mailpoll.housekeeping"
    assert keys.HOUSEKEEPING_ACTOR == "housekeeping"
