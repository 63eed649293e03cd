"""Rendezvous hashing: every account has one owner, and a joining watcher moves few."""

from __future__ import annotations

from watcher import assign

ACCOUNTS = range(1, 1001)


def test_every_account_has_exactly_one_owner_and_the_shares_are_even() -> None:
    watchers = ["a", "b", "c"]
    shares = [assign.mine(ACCOUNTS, watchers, w) for w in watchers]

    assert set().union(*shares) == set(ACCOUNTS)
    assert sum(len(share) for share in shares) == len(ACCOUNTS)
    assert all(250 < len(share) < 420 for share in shares)


def test_a_watcher_joining_takes_accounts_only_from_the_others() -> None:
    before = {w: assign.mine(ACCOUNTS, ["a", "b"], w) for w in "ab"}
    after = {w: assign.mine(ACCOUNTS, ["a", "b", "c"], w) for w in "abc"}

    assert after["a"] <= before["a"]
    assert after["b"] <= before["b"]
    assert after["c"] == (before["a"] - after["a"]) | (before["b"] - after["b"])


def test_a_watcher_alone_or_not_yet_listed_holds_everything() -> None:
    assert assign.mine([1, 2], ["a"], "a") == {1, 2}
    assert assign.mine([1, 2], [], "a") == {1, 2}
