"""The Redis keys of push (IMAP IDLE) watching, namespaced `mailpoll:` like `shared.redis_keys`.

Kept apart from `shared.redis_keys` while that module is being reworked; they belong there.
"""

from __future__ import annotations

from shared.redis_keys import PREFIX


def watchers() -> str:
    """Sorted set: live watcher id -> when its heartbeat runs out (Unix milliseconds)."""
    return f"{PREFIX}:watch:members"


def watch_lease(account_id: int) -> str:
    """The one watcher that holds the account's IDLE connection: value = watcher id, expiring."""
    return f"{PREFIX}:watch:lease:{account_id}"


def watch_mode(account_id: int) -> str:
    """How the holder watches the account (JSON), expiring with its lease, for `status`."""
    return f"{PREFIX}:watch:mode:{account_id}"
