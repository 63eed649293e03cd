"""Housekeeping: server actions that fell due between polls (a delete N days after download).

Polls do due actions too; this catches accounts whose interval is long, and runs under the
same per-account lock, so it never races a poll.
"""

from __future__ import annotations

import logging

from shared.db import ledger
from shared.db.models import Account
from shared.errors import MailpollError
from shared.lock import AccountLock, LockRenewer
from workers import actions
from workers.poll import PollDeps

log = logging.getLogger(__name__)


def run_housekeeping(deps: PollDeps) -> int:
    """Do every due server action of every enabled inbound account; returns how many."""
    with deps.database.session() as session:
        account_ids = ledger.accounts_with_due_actions(session, deps.clock())
    done = 0
    for account_id in account_ids:
        with deps.database.session() as session:
            account = session.get(Account, account_id)
        if account is None or not account.enabled or account.type != "inbound":
            continue
        lock = AccountLock(deps.redis, account_id, ttl_seconds=deps.lock_ttl)
        if not lock.acquire():
            continue  # a poll holds it, and does the due actions itself
        try:
            with LockRenewer(lock), deps.open_mailbox(account) as client:
                done += actions.run_due(account, client, deps.database, deps.clock)
        except MailpollError as error:
            log.warning("%s: housekeeping failed, the next poll retries: %s", account.name, error)
        finally:
            lock.release()
    if done:
        log.info("housekeeping: %d server action(s) done", done)
    return done
