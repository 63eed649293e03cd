"""`mailpoll dead-letters`: messages that could not be taken, and putting them back."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from mailpoll.cli import output

if TYPE_CHECKING:
    from mailpoll.app import App


@click.group("dead-letters")
def group() -> None:
    """Messages that failed every try; the folder moved on past them."""


@group.command("list")
@click.option("--account", "name", help="only this account")
@click.option("--json", "as_json", is_flag=True, help="print JSON for scripts")
@click.pass_obj
def list_command(app: App, name: str | None, as_json: bool) -> None:
    """Each dead letter: where it is on the server, why it failed, how often."""
    from shared import deadletters

    with app.database.session() as session:
        account_id = app.account_service(session).get(name).id if name else None
        rows = deadletters.rows(session, account_id)
    if as_json:
        output.emit_json(rows)
    elif not rows:
        click.echo("no dead letters")
    else:
        headers = ("ID", "ACCOUNT", "FOLDER", "UID/UIDL", "ATTEMPTS", "STATE", "ERROR")
        output.table(
            headers,
            [
                (r["id"], r["account"], r["folder"], r["uid"] or r["uidl"], r["attempts"],
                 r["state"], r["error"])
                for r in rows
            ],
        )  # fmt: skip


@group.command("replay")
@click.argument("ids", nargs=-1, type=int)
@click.option("--account", "name", help="every dead letter of this account")
@click.pass_obj
def replay_command(app: App, ids: tuple[int, ...], name: str | None) -> None:
    """Try these dead letters again at the account's next poll.

    Every ID is checked before any is changed: one unknown ID changes nothing.
    """
    if not ids and not name:
        raise click.UsageError("give dead-letter IDs or --account NAME")
    from shared import deadletters

    with app.database.session() as session:
        account_id = app.account_service(session).get(name).id if name else None
        replayed, waiting = deadletters.replay(session, ids, account_id, name)
    click.echo(deadletters.replay_summary(replayed, waiting))
