"""What the watcher reads from the configuration database: the push accounts, their
checkpoints and their last polls. Plain values out; no rows leave this module."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import cast

import sqlalchemy as sa
from sqlmodel import Session, col, select

from shared.clock import utc
from shared.db import changes, ledger
from shared.db.models import Account, AccountStatus
from shared.errors import ConfigError
from shared.mail.client import INBOX, Encryption, Endpoint, FolderInfo
from shared.properties import Properties
from watcher.session import Target

log = logging.getLogger(__name__)


def fingerprint(session: Session) -> str:
    """Changes whenever an account is added, changed or removed: the configuration's version,
    one lookup by primary key whatever the number of accounts."""
    return str(changes.version(session))


def push_accounts(session: Session) -> dict[int, Target]:
    """Every enabled inbound IMAP account with `idle=true`, by id."""
    query = select(Account).where(
        Account.type == "inbound",
        col(Account.enabled).is_(sa.true()),
        sa.func.coalesce(Account.protocol, "imap") == "imap",
        col(Account.properties).contains("idle"),  # a cheap first cut; parsed below
    )
    targets: dict[int, Target] = {}
    for account in session.exec(query):
        target = _target(account)
        if target is not None:
            targets[target.account_id] = target
    return targets


def _target(account: Account) -> Target | None:
    try:
        properties = Properties.of(account.properties, "inbound")
    except (ConfigError, ValueError) as error:  # stored before a rule changed: not watched
        log.warning("%s: properties not usable, not watched: %s", account.name, error)
        return None
    if not properties.idle or account.id is None:
        return None
    return Target(
        account_id=account.id,
        name=account.name,
        endpoint=Endpoint(
            account.host, account.port, cast(Encryption, account.encryption), properties
        ),
        folder=account.folder or INBOX,
        auth_type=account.auth_type,
        debug=account.debug,
        version=utc(account.modified_at).isoformat(),
        idle_poll_interval=properties.idle_poll_interval,
    )


def behind(session: Session, target: Target, info: FolderInfo) -> bool:
    """Whether the folder may hold mail the polls have not taken: never polled, another
    UIDVALIDITY, or UIDs given out above the last one taken (or UIDNEXT unknown)."""
    state = ledger.checkpoint(session, target.account_id, target.folder)
    if state is None or state.uidvalidity != info.uidvalidity or info.uidnext is None:
        return True
    return info.uidnext - 1 > state.last_uid


def last_polls(session: Session, account_ids: Sequence[int]) -> dict[int, datetime]:
    """When each of these accounts was last polled (accounts never polled are left out)."""
    found: dict[int, datetime] = {}
    for start in range(0, len(account_ids), 500):
        batch = account_ids[start : start + 500]
        query = select(AccountStatus.account_id, AccountStatus.last_poll_at).where(
            col(AccountStatus.account_id).in_(batch)
        )
        for account_id, last_poll in session.exec(query):
            if last_poll is not None:
                found[account_id] = utc(last_poll)
    return found
