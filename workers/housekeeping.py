"""Housekeeping: server actions that fell due between polls (a delete N days after download),
and temp files that a killed worker left in the upload dir.

Polls do due actions too; this catches accounts whose interval is long, and runs under the
same per-account lease, so it never races a poll.
"""

from __future__ import annotations

import logging

from shared.db import ledger
from shared.db.models import Account
from shared.errors import MailpollError
from workers import server_actions
from workers.account import InboundAccount
from workers.lease import hold
from workers.poll import PollDeps

log = logging.getLogger(__name__)


def run_housekeeping(deps: PollDeps) -> int:
    """Remove what killed writers left in the upload dir, then do every due server action of
    every enabled inbound account; returns how many actions were done. One account's failure
    (its server, or Redis while its lease is taken) never ends the run for the others."""
    try:
        deps.store.remove_stale()
    except OSError as error:
        log.warning("housekeeping cannot clean the upload dir's staging folder: %s", error)
    with deps.database.session() as session:
        account_ids = ledger.accounts_with_due_actions(session, deps.clock())
    done = 0
    for account_id in account_ids:
        with deps.database.session() as session:
            row = session.get(Account, account_id)
            floor = ledger.highest_fence(session, account_id)
        if row is None or not row.enabled or row.type != "inbound":
            continue
        account = InboundAccount.of(row)
        try:
            with hold(
                deps.redis, account_id, ttl_seconds=deps.lock_ttl, floor=floor,
                host_locks=deps.host_locks,
            ) as held:  # fmt: skip
                if held.busy is not None:
                    continue  # a poll holds it, and does the due actions itself
                with deps.open_mailbox(account) as client:
                    done += server_actions.run_due(account, client, deps.database, deps.clock)
        except MailpollError as error:
            log.warning("%s: housekeeping failed, the next poll retries: %s", account.name, error)
    if done:
        log.info("housekeeping: %d server action(s) done", done)
    return done
