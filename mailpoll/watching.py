"""The watcher's collaborators, put together by the composition root.

The watcher imports `shared` only; credentials (which live in `workers`) reach it as a plain
callable, and polls are asked for through the broker that this process's runtime uses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import redis

from shared.db.database import Database
from shared.db.models import Account
from shared.errors import NotFoundError
from shared.mail.client import Credentials
from shared.poll_requests import PollRequests
from shared.schedule import Schedule
from shared.watch_leases import WatchLeases
from watcher.loop import CredentialsOf, Watcher, WatcherDeps, WatcherOptions, new_watcher_id
from watcher.safety import SafetyNet

if TYPE_CHECKING:
    from workers.credentials import CredentialSource


def build_watcher(
    database: Database,
    source: CredentialSource,
    client: redis.Redis,
    enqueue_poll: Callable[[int], None],
    schedule: Schedule,
    options: WatcherOptions | None = None,
) -> Watcher:
    options = options or WatcherOptions()
    leases = WatchLeases(client, new_watcher_id(), ttl_seconds=options.lease_seconds)
    deps = WatcherDeps(
        database=database,
        leases=leases,
        requests=PollRequests(client, enqueue_poll),
        credentials=credentials_of(database, source),
        safety=SafetyNet(database, due_times=schedule.due_times, postpone=schedule.postpone),
    )
    return Watcher(deps, options)


def credentials_of(database: Database, source: CredentialSource) -> CredentialsOf:
    """Credentials resolved at each connect, as the poll resolves them (OAuth2 refreshed when
    due, or at once with `fresh` after a refused token)."""

    def credentials(account_id: int, fresh: bool) -> Credentials | None:
        with database.session() as session:
            account = session.get(Account, account_id)
        if account is None:
            raise NotFoundError(f"account {account_id} no longer exists")
        return source.for_account(account, fresh_token=fresh)

    return credentials
