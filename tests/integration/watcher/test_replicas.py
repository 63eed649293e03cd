"""Several watchers: each account is watched by exactly one, and a dead one's move on."""

from __future__ import annotations

import time

import pytest

from tests.integration.watcher.harness import Watching, connections
from tests.support.dovecot import DovecotServer
from tests.support.processes import wait_until

pytestmark = pytest.mark.integration
ACCOUNTS = 6


def test_two_watchers_never_watch_the_same_account(
    watching: Watching, dovecot: DovecotServer
) -> None:
    watching.run_polls = False  # only the watchers' connections reach the server
    users = [dovecot.new_user() for _ in range(ACCOUNTS)]
    ids = set()
    for user in users:
        account = watching.pipeline.add_account(
            user, "secret", polling_interval=3600, properties="idle=true"
        )
        assert account.id is not None
        ids.add(account.id)
    with watching.running() as first:
        wait_until(lambda: set(first.watched) == ids, 15, "the first watcher holding all")
        with watching.running() as second:
            overlaps, most = [], 0
            deadline = time.monotonic() + 6
            while time.monotonic() < deadline:  # while they rebalance, and after
                overlaps += [set(first.watched) & set(second.watched)]
                most = max(most, *connections(dovecot, users).values(), 0)
                time.sleep(0.05)
            wait_until(lambda: set(first.watched) | set(second.watched) == ids, 15, "all held")
            assert second.watched, "the second watcher took a share"
            assert first.watched, "the first watcher kept a share"
            assert not any(overlaps)
            assert most <= 1, "an account had two IMAP connections at once"
            expected = {i: first.id if i in first.watched else second.id for i in ids}
            wait_until(
                lambda: {i: getattr(watching.mode(i), "watcher", None) for i in ids} == expected,
                15,
                "each account's record naming its one watcher",
            )
