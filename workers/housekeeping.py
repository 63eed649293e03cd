"""Housekeeping: server actions that fell due between polls (a delete N days after download),
and temp files that a killed worker left in the upload dir.

Polls do due actions too; this catches accounts whose interval is long, and runs under the
same per-account lock, so it never races a poll.
"""

from __future__ import annotations

import logging

from shared.db import ledger
from shared.db.models import Account
from shared.errors import MailpollError
from workers import actions
from workers.lease import AccountLease
from workers.poll import PollDeps

log = logging.getLogger(__name__)


def run_housekeeping(deps: PollDeps) -> int:
    """Remove what killed writers left in the upload dir, then do every due server action of
    every enabled inbound account; returns how many actions were done."""
    try:
        deps.store.remove_stale()
    except OSError as error:
        log.warning("housekeeping cannot clean the upload dir's staging folder: %s", error)
    with deps.database.session() as session:
        account_ids = ledger.accounts_with_due_actions(session, deps.clock())
    done = 0
    for account_id in account_ids:
        with deps.database.session() as session:
            account = session.get(Account, account_id)
            floor = ledger.highest_fence(session, account_id)
        if account is None or not account.enabled or account.type != "inbound":
            continue
        lease = AccountLease(
            deps.redis, account_id, ttl_seconds=deps.lock_ttl, host_locks=deps.host_locks
        )
        try:
            if lease.take(floor=floor) is not None:
                continue  # a poll holds it, and does the due actions itself
            with lease.renewed(), deps.open_mailbox(account) as client:
                done += actions.run_due(account, client, deps.database, deps.clock)
        except MailpollError as error:
            log.warning("%s: housekeeping failed, the next poll retries: %s", account.name, error)
        finally:
            lease.release()
    if done:
        log.info("housekeeping: %d server action(s) done", done)
    return done
