"""How a poll's success or failure is recorded: account status, backoff, next due time.

Authentication and configuration failures will not heal by themselves: the account waits long
(and is reported at once). Network, time-out and busy-server failures back off exponentially
with jitter, per account, so one failing account never delays another.
"""

from __future__ import annotations

import logging
import random
from datetime import timedelta
from typing import TYPE_CHECKING

from shared import metrics
from shared.db import ledger
from shared.db.models import AccountStatus
from shared.errors import AuthenticationError, MailpollError, PermanentError

if TYPE_CHECKING:
    from workers.account import InboundAccount
    from workers.intake import Tally
    from workers.poll import PollDeps

log = logging.getLogger(__name__)
REPORT_AFTER_FAILURES = 3  # authentication failures are reported at once
BASE_BACKOFF = 5.0
MAX_BACKOFF = 3600.0
PERMANENT_BACKOFF = 900.0


def kind_of(error: MailpollError) -> str:
    if isinstance(error, AuthenticationError):
        return "authentication"
    if isinstance(error, PermanentError):
        return "configuration"
    return "transient"


def backoff_seconds(error: MailpollError, failures: int) -> float:
    """Seconds until the next try after `failures` failures in a row."""
    if isinstance(error, PermanentError):
        return PERMANENT_BACKOFF
    ceiling = min(MAX_BACKOFF, BASE_BACKOFF * 2 ** min(failures - 1, 16))
    return random.uniform(ceiling / 2, ceiling)  # jitter: failing accounts do not retry in step


def record_failure(account: InboundAccount, error: MailpollError, deps: PollDeps) -> None:
    """Status, backoff and report; if even that fails (the database is down), log it."""
    metrics.poll_failed(error)
    try:
        _record_failure(account, error, deps)
    except Exception:
        log.exception(
            "%s: poll failed (%s) and the failure cannot be recorded", account.name, error
        )


def _record_failure(account: InboundAccount, error: MailpollError, deps: PollDeps) -> None:
    now = deps.clock()
    with deps.database.session() as session:
        status = ledger.status_of(session, account.id)
        status.consecutive_failures += 1
        status.last_poll_at = now
        status.last_error = str(error)
        status.last_error_kind = kind_of(error)
        status.failing_since = status.failing_since or now
        delay = backoff_seconds(error, status.consecutive_failures)
        status.backoff_until = now + timedelta(seconds=delay)
        if _report_due(status, error) and _tell(deps, *_failure_report(account, error, status)):
            status.error_reported_at = now
    log.warning(
        "%s: poll failed (%s, %d in a row), next try in %.0fs: %s",
        account.name, kind_of(error), status.consecutive_failures, delay, error,
    )  # fmt: skip
    try:
        deps.postpone(account.id, now.timestamp() + delay)
    except MailpollError as postpone_error:
        log.warning("%s: cannot postpone the next poll: %s", account.name, postpone_error)


def _report_due(status: AccountStatus, error: MailpollError) -> bool:
    """Once per failure episode: authentication at once, anything else after a few polls."""
    if status.error_reported_at is not None:
        return False
    return (
        kind_of(error) == "authentication" or status.consecutive_failures >= REPORT_AFTER_FAILURES
    )


def _failure_report(
    account: InboundAccount, error: MailpollError, status: AccountStatus
) -> tuple[str, str]:
    since = status.failing_since
    return (
        f"mailpoll: account {account.name} is failing",
        f"Polling {account.name} ({account.host}) failed {status.consecutive_failures} "
        f"time(s) in a row since {since:%Y-%m-%d %H:%M:%S} UTC.\n\n"
        f"Last error ({kind_of(error)}): {error}\n\n"
        f"mailpoll retries with backoff and will say when it works again.\n"
        f"Try: mailpoll accounts test {account.name}\n",
    )


def record_success(account: InboundAccount, tally: Tally, deps: PollDeps) -> None:
    now = deps.clock()
    with deps.database.session() as session:
        status = ledger.status_of(session, account.id)
        if status.consecutive_failures:
            log.info(
                "%s: polling works again after %d failure(s)",
                account.name,
                status.consecutive_failures,
            )
        if status.error_reported_at is not None:
            status.error_reported_at = None
            _tell(
                deps,
                f"mailpoll: account {account.name} works again",
                f"Polling {account.name} ({account.host}) works again after "
                f"{status.consecutive_failures} failure(s).\n",
            )
        status.last_poll_at = status.last_success_at = now
        status.consecutive_failures = 0
        status.failing_since = status.backoff_until = None
        status.last_error = status.last_error_kind = None
        status.messages_waiting = tally.waiting
        status.oldest_waiting_at = tally.oldest_waiting


def _tell(deps: PollDeps, subject: str, body: str) -> bool:
    """Report to the error-reporting address; True once it went out (or was handed to a queue
    that sends it). A report that cannot go out is logged, and tried again next failure."""
    try:
        deps.notify(subject, body)
    except Exception as error:  # a broker or SMTP outage must not hide the poll's own failure
        log.warning("cannot send the report %r: %s", subject, error)
        return False
    return True
