"""`mailpoll dead-letters`: messages that could not be taken, and putting them back."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from mailpoll.cli import output
from shared.clock import as_utc, utcnow
from shared.errors import ConfigError

if TYPE_CHECKING:
    from sqlmodel import Session

    from mailpoll.app import App
    from shared.db.models import DeadLetter


@click.group("dead-letters")
def group() -> None:
    """Messages that failed every try; the folder moved on past them."""


@group.command("list")
@click.option("--account", "name", help="only this account")
@click.option("--json", "as_json", is_flag=True, help="print JSON for scripts")
@click.pass_obj
def list_command(app: App, name: str | None, as_json: bool) -> None:
    """Each dead letter: where it is on the server, why it failed, how often."""
    from sqlmodel import select

    from shared.db import ledger
    from shared.db.models import Account

    with app.database.session() as session:
        account_id = app.account_service(session).get(name).id if name else None
        names = dict(session.exec(select(Account.id, Account.name)).all())
        letters = ledger.dead_letters(session, account_id)
    rows = [
        {
            "id": d.id, "account": names.get(d.account_id), "folder": d.folder,
            "uidvalidity": d.uidvalidity, "uid": d.uid, "uidl": d.uidl, "error": d.error,
            "attempts": d.attempts, "last_failed_at": as_utc(d.last_failed_at),
            "state": "dead" if d.dead else "replay pending",
        }
        for d in letters
    ]  # fmt: skip
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
    with app.database.session() as session:
        account_id = app.account_service(session).get(name).id if name else None
        letters = _chosen(session, ids, account_id, name)
        dead = [letter for letter in letters if letter.dead]
        for letter in dead:
            letter.dead, letter.replayed_at = False, utcnow()
    waiting = len(letters) - len(dead)
    already = f" ({waiting} already waiting for it)" if waiting else ""
    click.echo(f"{len(dead)} dead letter(s) will be tried again at the next poll{already}")


def _chosen(
    session: Session, ids: tuple[int, ...], account_id: int | None, name: str | None
) -> list[DeadLetter]:
    """The dead letters named by ID and/or account; ConfigError naming the IDs not found."""
    from sqlmodel import col, select

    from shared.db.models import DeadLetter

    query = select(DeadLetter)
    if ids:
        # An ID beyond a 64-bit integer cannot exist (and SQLite could not even compare it).
        query = query.where(col(DeadLetter.id).in_([i for i in ids if 0 < i < 2**63]))
    if account_id is not None:
        query = query.where(DeadLetter.account_id == account_id)
    letters = list(session.exec(query))
    missing = sorted(set(ids) - {letter.id for letter in letters})
    if missing:
        listed = ", ".join(str(i) for i in missing)
        of = f" of account {name!r}" if name else ""
        raise ConfigError("id", f"no dead letter with id {listed}{of}")
    return letters
