"""`mailpoll status`: how each inbound account's polling goes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from mailpoll.cli import output
from shared.clock import as_utc
from shared.errors import MailpollError

if TYPE_CHECKING:
    from mailpoll.app import App
    from shared.db.models import Account, AccountStatus


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="print JSON for scripts")
@click.pass_obj
def status_command(app: App, as_json: bool) -> None:
    """Last poll, last success, failures in a row, last error, mail waiting, next poll."""
    from shared.db import ledger

    due = _due_times(app)
    rows: list[dict[str, Any]] = []
    with app.system_settings() as store:
        default_interval = int(store.get("default_polling_interval") or 60)
    with app.database.session() as session:
        service = app.account_service(session)
        for account in service.list():
            if account.type != "inbound" or account.id is None:
                continue
            status = ledger.status_of(session, account.id)
            session.expunge(status)
            next_due = due.get(account.id)
            rows.append(
                {
                    "account": account.name,
                    "enabled": account.enabled,
                    "last_poll_at": as_utc(status.last_poll_at),
                    "last_success_at": as_utc(status.last_success_at),
                    "consecutive_failures": status.consecutive_failures,
                    "last_error": status.last_error,
                    "failing_since": as_utc(status.failing_since),
                    "messages_waiting": status.messages_waiting,
                    "oldest_waiting_at": as_utc(status.oldest_waiting_at),
                    "dead_letters": len(ledger.dead_letters(session, account.id)),
                    "next_poll_at": _estimated_next(account, status, default_interval)
                    if next_due is None
                    else datetime.fromtimestamp(next_due, UTC),
                    "action_error": status.action_error,
                }
            )
        session.rollback()  # status_of may have added rows: reading changes nothing
    if as_json:
        output.emit_json(rows)
        return
    if not rows:
        click.echo("no inbound accounts")
        return
    headers = ("ACCOUNT", "ENABLED", "LAST POLL", "LAST SUCCESS", "FAILURES", "WAITING", "NEXT")
    output.table(
        headers,
        [
            (
                r["account"], r["enabled"], _when(r["last_poll_at"]), _when(r["last_success_at"]),
                r["consecutive_failures"], r["messages_waiting"], _when(r["next_poll_at"]),
            )
            for r in rows
        ],
    )  # fmt: skip
    for row in rows:
        if row["last_error"]:
            click.echo(f"{row['account']}: {row['last_error']}")
        if row["action_error"]:
            click.echo(f"{row['account']}: server action: {row['action_error']}")


def _estimated_next(account: Account, status: AccountStatus, default: int) -> datetime | None:
    """Without a Redis server to ask (the embedded one lives in `mailpoll run`), the next poll
    as the status tells it: after the backoff, else one interval after the last poll."""
    if not account.enabled:
        return None
    backoff = as_utc(status.backoff_until)
    if backoff is not None:
        return backoff
    last = as_utc(status.last_poll_at)
    return None if last is None else last + timedelta(seconds=account.polling_interval or default)


def _due_times(app: App) -> dict[int, float]:
    """Next due times from the shared schedule, when there is a Redis to ask."""
    if not app.settings.redis_url:
        return {}
    import redis  # only with a Redis server to ask

    from shared.schedule import Schedule

    client = redis.Redis.from_url(app.settings.redis_url, socket_timeout=5)
    try:
        return Schedule(client).due_times()
    except MailpollError:
        return {}
    finally:
        client.close()


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")
