"""What happens on the server once mail is safely stored and announced.

`on_email_received` (mark read, move, delete) and `delete_read_messages` are written into the
ledger with the message, as a due action (`InboundAccount.first_action`), before anything is
done on the server. Doing them is a separate step that reads the due actions back, so an
action interrupted by a crash is done by the next poll, and a delete N days later is the
same step run by housekeeping.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from shared.clock import Clock, utc
from shared.db import ledger
from shared.db.database import Database
from shared.db.models import ReceivedMessage
from shared.errors import ConnectError, FolderError, MailpollError, ServerTimeoutError
from shared.mail.client import MailboxClient, MessageRef
from workers.account import InboundAccount

log = logging.getLogger(__name__)
ACTION_BASE_BACKOFF = timedelta(minutes=1)
ACTION_MAX_BACKOFF = timedelta(hours=6)
# The session is gone: the poll fails and the actions stay due, without counting a try.
_CONNECTION_GONE = (ConnectError, ServerTimeoutError)


def run_due(
    account: InboundAccount, client: MailboxClient, database: Database, clock: Clock
) -> int:
    """Do every due action of the account on the open session; returns how many were done.

    An action the server refuses (a missing move folder, say) never stops intake: it is
    recorded on the messages and on the account's status, and retried later with backoff.
    Only a lost connection propagates, since nothing more can be done on it.
    """
    now = clock()
    with database.session() as session:
        pending = ledger.due_actions(session, account.id, now)
        due, replans = _current(account, pending, now)
        for row_id, wanted, due_at in replans:
            ledger.replan_action(session, row_id, wanted, due_at)
    done, failed = 0, None
    for action in ("mark_read", "move", "delete"):
        rows = [row for row in due if row.server_action == action]
        if not rows:
            continue
        try:
            _perform(account, client, action, rows)
        except _CONNECTION_GONE:
            raise
        except MailpollError as error:
            failed = f"{action}: {error}"
            _retry_later(account, database, rows, failed, now)
            continue
        _advance(account, database, rows, action, now)
        done += len(rows)
    if pending:
        with database.session() as session:
            ledger.record_action_outcome(session, account.id, failed, now)
    return done


def _current(
    account: InboundAccount, due: list[ReceivedMessage], now: datetime
) -> tuple[list[ReceivedMessage], list[tuple[int, str | None, datetime]]]:
    """The due actions the account's settings still ask for, and the replans of the others
    (row id, new action, due at). One queued under settings that changed since (say `move`,
    and the account is now `leave` or `delete`) is replaced by what the settings ask for now,
    or finished when they ask for nothing."""
    current = []
    replans: list[tuple[int, str | None, datetime]] = []
    for row in due:
        wanted = _wanted(account, row)
        if wanted == row.server_action:
            current.append(row)
            continue
        assert row.id is not None
        due_at = now if wanted is None else utc(row.downloaded_at) + account.delay(wanted)
        log.info(
            "%s: %s of message %s superseded by the account's settings: %s",
            account.name, row.server_action, row.event_id, wanted or "nothing to do",
        )  # fmt: skip
        replans.append((row.id, wanted, due_at))
        if wanted is not None and utc(due_at) <= now:
            row.server_action, row.server_action_due_at = wanted, due_at
            current.append(row)
    return current, replans


def _wanted(account: InboundAccount, row: ReceivedMessage) -> str | None:
    """The action the account's settings ask for a message whose action is pending."""
    if row.server_action == "delete" and account.delete_read_messages:
        return "delete"  # the delete N days after a mark-read, or right after download
    return account.first_action


def _retry_later(
    account: InboundAccount,
    database: Database,
    rows: list[ReceivedMessage],
    error: str,
    now: datetime,
) -> None:
    attempts = 1 + max(row.server_action_attempts for row in rows)
    wait = min(ACTION_MAX_BACKOFF, ACTION_BASE_BACKOFF * 2 ** min(attempts - 1, 16))
    log.warning(
        "%s: %s (%d message(s), try %d); intake goes on, next try in %s",
        account.name, error, len(rows), attempts, wait,
    )  # fmt: skip
    with database.session() as session:
        ids = [row.id for row in rows if row.id is not None]
        ledger.retry_actions_later(session, ids, error, now + wait)


def _perform(
    account: InboundAccount, client: MailboxClient, action: str, rows: list[ReceivedMessage]
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
    account: InboundAccount,
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
        ids = [row.id for row in rows if row.id is not None]
        ledger.delete_later(session, ids, timedelta(days=account.delete_after_days or 0))
