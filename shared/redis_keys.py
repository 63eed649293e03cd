"""Every Redis key and every queue and actor name mailpoll uses, in one place.

Keys are namespaced `mailpoll:`. The scheduler enqueues by these names, so it never imports
actor code.
"""

from __future__ import annotations

PREFIX = "mailpoll"

POLL_QUEUE = "mailpoll.poll"
POLL_ACTOR = "poll_account"
HOUSEKEEPING_QUEUE = "mailpoll.housekeeping"
HOUSEKEEPING_ACTOR = "housekeeping"
SEND_QUEUE = "mailpoll.send"
SEND_ACTOR = "send_message"
SEND_GAVE_UP_ACTOR = "send_gave_up"  # Dramatiq calls it when a send's retries are exhausted


def account_lock(account_id: int) -> str:
    """The per-account lease a poll holds: value = owner token."""
    return f"{PREFIX}:lock:account:{account_id}"


def lock_fence(account_id: int) -> str:
    """Counter giving each new lease a higher fencing token."""
    return f"{PREFIX}:lock:fence:{account_id}"


def lock_contention_count() -> str:
    """How many polls ended at once because another worker held the account."""
    return f"{PREFIX}:stats:lock_contention"


def schedule() -> str:
    """Sorted set: account id -> when its next poll is due (Unix seconds)."""
    return f"{PREFIX}:schedule:due"


def schedule_intervals() -> str:
    """Hash: account id -> polling interval in seconds, as last reconciled."""
    return f"{PREFIX}:schedule:interval"


def schedule_seen() -> str:
    """The configuration version and default interval the schedule reflects: "version|interval"."""
    return f"{PREFIX}:schedule:seen"


def poll_enqueued(account_id: int) -> str:
    """Marker set while a poll job for the account waits in the queue, so it is sent once."""
    return f"{PREFIX}:poll:enqueued:{account_id}"


def housekeeping_claim() -> str:
    """Set (with an expiry) by the scheduler replica that enqueued the last housekeeping."""
    return f"{PREFIX}:housekeeping:claimed"
