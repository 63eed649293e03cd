"""How each push account (property idle=true) is watched, by name: for `mailpoll status`.

The watchers record it in Redis (`shared.watch_leases`); an account that no watcher holds is
polled at its interval only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlmodel import Session, col, select

from shared.db.models import Account
from shared.errors import ConfigError, MailpollError
from shared.properties import Properties

if TYPE_CHECKING:  # status without a Redis server loads no Redis client
    import redis

UNWATCHED = "not watched: no `mailpoll watcher` holds it, so it is polled at its interval"
EMBEDDED = "watched by `mailpoll run` (its state is not shared without a Redis server)"


def push_states(session: Session, client: redis.Redis | None) -> dict[str, tuple[str, str]]:
    """Account name -> (mode, one line) for every enabled inbound IMAP account with idle=true.

    mode: idle, interval, connecting, unwatched, or unknown (no Redis server to ask).
    """
    query = select(Account.id, Account.name, Account.properties).where(
        Account.type == "inbound",
        col(Account.enabled).is_(sa.true()),
        sa.func.coalesce(Account.protocol, "imap") == "imap",
        col(Account.properties).contains("idle"),
    )
    pushed = {account_id: name for account_id, name, text in session.exec(query)
              if account_id is not None and _idle(text)}  # fmt: skip
    if client is None:
        return {name: ("unknown", EMBEDDED) for name in pushed.values()}
    from shared.watch_leases import modes

    try:
        found = modes(client, sorted(pushed))
    except MailpollError as error:
        return {name: ("unknown", str(error)) for name in pushed.values()}
    return {
        name: (found[i].mode, found[i].describe()) if i in found else ("unwatched", UNWATCHED)
        for i, name in pushed.items()
    }


def _idle(text: str) -> bool:
    try:
        return Properties.of(text, "inbound").idle
    except (ConfigError, ValueError):
        return False
