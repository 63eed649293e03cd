"""Which live watcher should watch which account: rendezvous hashing, no coordination.

Every watcher computes the same answer from the same list of live watchers, and when one
joins or leaves only the accounts it gains or held move (about 1/N of them).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence


def owner(account_id: int, watchers: Sequence[str]) -> str:
    """The watcher that should hold the account (watchers must not be empty)."""
    return max(watchers, key=lambda watcher: (_weight(watcher, account_id), watcher))


def mine(account_ids: Iterable[int], watchers: Sequence[str], me: str) -> set[int]:
    """The accounts that `me` should hold; all of them while it is alone."""
    if not watchers or watchers == [me]:
        return set(account_ids)
    return {i for i in account_ids if owner(i, watchers) == me}


def _weight(watcher: str, account_id: int) -> int:
    digest = hashlib.blake2b(f"{watcher}|{account_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")
