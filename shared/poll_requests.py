"""Polls asked for out of schedule (push): one queued poll per account at a time.

A watcher that sees new mail asks for a poll; bursts of notifications must not queue a poll
each. The marker `keys.poll_enqueued` is set when such a poll is queued and cleared when a
poll job starts (`taken`): until then another request is already covered, since the queued
poll will list the folder after it.

A request while a poll runs is not covered: that poll may have listed the folder before the
mail arrived. `request` then answers "polling", and the caller asks again once the lock is
free (a poll that takes the lock after the mail arrived lists it).

The scheduler's interval polls take part too (`enqueue_scheduled`): an account whose push poll
waits in the queue gets no second one, and a push request while a scheduled poll waits is
covered by it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Literal

import redis

from shared import redis_keys
from shared.errors import ConnectError

log = logging.getLogger(__name__)

Outcome = Literal["enqueued", "queued", "polling"]
# A queued poll that never starts (a broker that lost it) blocks requests at most this long.
MARKER_TTL_SECONDS = 120

# KEYS: account lock, enqueued marker. ARGV: marker time-to-live in seconds.
# Returns 'polling' (a poll holds the account), 'queued' (one waits), or 'enqueue' (marker
# set now: the caller enqueues the poll).
_REQUEST = """
if redis.call('EXISTS', KEYS[1]) == 1 then
    return 'polling'
end
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[1]) then
    return 'enqueue'
end
return 'queued'
"""


class PollRequests:
    """Asks for immediate polls through `enqueue`, coalesced per account."""

    def __init__(
        self,
        client: redis.Redis,
        enqueue: Callable[[int], None],
        *,
        marker_ttl: int = MARKER_TTL_SECONDS,
    ) -> None:
        self._redis = client
        self._enqueue = enqueue
        self._ttl = marker_ttl
        self._request = client.register_script(_REQUEST)

    def request(self, account_id: int) -> Outcome:
        """Queue a poll unless one is queued; "polling": ask again once the poll ends.

        Raises ConnectError when Redis cannot be reached; an enqueue that fails clears the
        marker again (so the next request tries anew) and raises what the broker raised.
        """
        lock, marker = redis_keys.account_lock(account_id), redis_keys.poll_enqueued(account_id)
        try:
            answer = self._request(keys=[lock, marker], args=[self._ttl])
        except redis.RedisError as error:
            raise ConnectError(f"redis: cannot ask for a poll: {error}") from error
        outcome = answer.decode() if isinstance(answer, bytes) else str(answer)
        if outcome != "enqueue":
            return "polling" if outcome == "polling" else "queued"
        try:
            self._enqueue(account_id)
        except BaseException:
            taken(self._redis, account_id)
            raise
        return "enqueued"


def taken(client: redis.Redis, account_id: int) -> None:
    """A poll job of the account starts (or its enqueue failed): later requests queue again.

    Never raises: a marker left behind only expires (MARKER_TTL_SECONDS).
    """
    try:
        client.delete(redis_keys.poll_enqueued(account_id))
    except redis.RedisError as error:
        log.warning("account %s: cannot clear its poll marker: %s", account_id, error)


def enqueue_scheduled(
    client: redis.Redis,
    account_ids: Sequence[int],
    enqueue: Callable[[Sequence[int]], None],
    *,
    marker_ttl: int = MARKER_TTL_SECONDS,
) -> list[int]:
    """Enqueue the scheduler's due polls, less the accounts whose poll already waits in the
    queue; returns the accounts enqueued. One pipelined round trip sets the markers. Without
    Redis every due poll is enqueued (a lost marker costs a spare poll, never a missed one);
    an enqueue that fails clears the markers it set and raises what the broker raised."""
    markers = [redis_keys.poll_enqueued(account_id) for account_id in account_ids]
    try:
        pipe = client.pipeline(transaction=False)
        for marker in markers:
            pipe.set(marker, "1", nx=True, ex=marker_ttl)
        fresh = [account_id for account_id, set_now in zip(account_ids, pipe.execute(), strict=True)
                 if set_now]  # fmt: skip
    except redis.RedisError as error:
        log.warning("cannot mark %d scheduled poll(s) as queued: %s", len(markers), error)
        enqueue(account_ids)
        return list(account_ids)
    if not fresh:
        return fresh
    try:
        enqueue(fresh)
    except BaseException:
        with contextlib.suppress(redis.RedisError):
            client.delete(*(redis_keys.poll_enqueued(account_id) for account_id in fresh))
        raise
    return fresh
