"""`mailpoll status`: how each inbound account's polling goes."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import click

from mailpoll.cli import output
from shared.errors import MailpollError

if TYPE_CHECKING:
    from sqlmodel import Session

    from mailpoll.app import App


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="print JSON for scripts")
@click.pass_obj
def status_command(app: App, as_json: bool) -> None:
    """Last poll, last success, failures in a row, last error, mail waiting, next poll."""
    from shared import status

    due = _due_times(app)
    with app.system_settings() as store:
        default_interval = int(store.get("default_polling_interval") or 60)
    with app.database.session() as session:
        pages = status.every(session, default_interval=default_interval, due=lambda _ids: due)
        rows = [row.as_dict() for row in pages]
        push = _push_states(app, session)
    for row in rows:  # push (idle=true): how a watcher watches the account
        row["push"], row["push_detail"] = push.get(row["account"], (None, None))
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
        if row["push_detail"]:
            click.echo(f"{row['account']}: push: {row['push_detail']}")


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


def _push_states(app: App, session: Session) -> dict[str, tuple[str, str]]:
    from shared.push_status import push_states

    if not app.settings.redis_url:
        return push_states(session, None)
    import redis  # only with a Redis server to ask

    client = redis.Redis.from_url(app.settings.redis_url, socket_timeout=5)
    try:
        return push_states(session, client)
    finally:
        client.close()


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")
