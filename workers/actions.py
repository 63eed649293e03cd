"""What happens on the server once mail is safely stored and announced.

`on_email_received` (mark read, move, delete) and `delete_read_messages` are written into the
ledger with the message, as a due action, before anything is done on the server. Doing them is
a separate step that reads the due actions back, so an action interrupted by a crash is done
by the next poll, and a delete N days later is the same step run by housekeeping.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from shared.clock import Clock
from shared.db import ledger
from shared.db.database import Database
from shared.db.models import Account, ReceivedMessage
from shared.errors import FolderError
from shared.mail.client import MailboxClient, MessageRef

log = logging.getLogger(__name__)


def plan(account: Account, rows: Sequence[ReceivedMessage], now: datetime) -> None:
    """Give each new ledger row its first server action and when it is due."""
    action = first_action(account)
    for row in rows:
        row.server_action = action
        row.server_action_due_at = None if action is None else now + _delay(account, action)


def first_action(account: Account) -> str | None:
    received = account.on_email_received or "leave"
    if received == "delete" or (account.delete_read_messages and not account.delete_after_days):
        return "delete"
    if received in ("mark_read", "move"):
        return received
    return "delete" if account.delete_read_messages else None


def _delay(account: Account, action: str) -> timedelta:
    if action == "delete" and account.on_email_received not in ("delete",):
        return timedelta(days=account.delete_after_days or 0)
    return timedelta(0)


def run_due(account: Account, client: MailboxClient, database: Database, clock: Clock) -> int:
    """Do every due action of the account on the open session; returns how many were done."""
    assert account.id is not None
    now = clock()
    with database.session() as session:
        due = ledger.due_actions(session, account.id, now)
    done = 0
    for action in ("mark_read", "move", "delete"):
        rows = [row for row in due if row.server_action == action]
        if rows:
            _perform(account, client, action, rows)
            _advance(account, database, rows, action, now)
            done += len(rows)
    return done


def _perform(
    account: Account, client: MailboxClient, action: str, rows: list[ReceivedMessage]
) -> None:
    refs = [MessageRef(r.folder, r.uid, r.uidvalidity, r.uidl) for r in rows]
    try:
        if action == "mark_read":
            client.mark_read(refs)
        elif action == "move":
            client.move(refs, account.move_to_folder or "")
        else:
            client.delete(refs)
    except FolderError as error:
        if "UIDVALIDITY" not in str(error):
            raise
        # The UIDs now name other messages: acting on them could touch unannounced mail.
        log.warning("%s: %s of %d message(s) given up: %s", account.name, action, len(rows), error)
        return
    log.info("%s: %s done for %d message(s)", account.name, action, len(rows))


def _advance(
    account: Account,
    database: Database,
    rows: list[ReceivedMessage],
    action: str,
    now: datetime,
) -> None:
    """After mark-read, a delete N days later may follow; everything else is finished."""
    with database.session() as session:
        if not (action == "mark_read" and account.delete_read_messages):
            ledger.mark_actions_done(session, [row.id for row in rows if row.id is not None], now)
            return
        for row in rows:  # the delete falls due N days after each message's download
            stored = session.get(ReceivedMessage, row.id)
            if stored is not None:
                stored.server_action = "delete"
                stored.server_action_due_at = stored.downloaded_at + timedelta(
                    days=account.delete_after_days or 0
                )
