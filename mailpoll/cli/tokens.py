"""`mailpoll tokens ...`: API tokens for services that call the admin API."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from mailpoll.cli import output
from shared.clock import as_utc

if TYPE_CHECKING:
    from mailpoll.app import App


@click.group("tokens")
def group() -> None:
    """Bearer tokens for services (Authorization: Bearer TOKEN); only a hash is stored."""


@group.command()
@click.argument("name")
@click.option(
    "--role", required=True, metavar="admin|viewer", help="viewer reads; admin also writes"
)
@click.pass_obj
def create(app: App, name: str, role: str) -> None:
    """Create a token and print it once: it cannot be shown again."""
    from shared.tokens import ApiTokens

    with app.database.session() as session:
        _, clear = ApiTokens(session, actor=app.actor).create(name, role)
    click.echo(clear)
    output.note(f"token {name!r} ({role}) created: store it now, it is not shown again")


@group.command("list")
@click.option("--json", "as_json", is_flag=True, help="print JSON for scripts")
@click.pass_obj
def list_command(app: App, as_json: bool) -> None:
    """Every token: name, role, its first characters, when made and last used."""
    from shared.tokens import ApiTokens

    with app.database.session() as session:
        rows = [
            {
                "name": t.name, "role": t.role, "starts_with": t.hint,
                "created_by": t.created_by, "created_at": as_utc(t.created_at),
                "last_used_at": as_utc(t.last_used_at),
            }
            for t in ApiTokens(session, actor=app.actor).all()
        ]  # fmt: skip
    if as_json:
        output.emit_json(rows)
    elif not rows:
        click.echo("no API tokens yet: make one with `mailpoll tokens create NAME --role viewer`")
    else:
        output.table(
            ("NAME", "ROLE", "STARTS WITH", "CREATED", "LAST USED"),
            [
                (r["name"], r["role"], f"{r['starts_with']}...", r["created_at"], r["last_used_at"])
                for r in rows
            ],
        )


@group.command()
@click.argument("name")
@click.pass_obj
def revoke(app: App, name: str) -> None:
    """Revoke a token: the next request that carries it is refused."""
    from shared.tokens import ApiTokens

    with app.database.session() as session:
        ApiTokens(session, actor=app.actor).revoke(name)
    click.echo(f"revoked: {name}")
