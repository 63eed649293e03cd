"""`mailpoll admins ...`: the people who sign in to the admin API, and their roles."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from mailpoll.cli import output
from mailpoll.cli.account_options import read_password
from shared.clock import as_utc

if TYPE_CHECKING:
    from collections.abc import Iterator
    from contextlib import AbstractContextManager

    from mailpoll.app import App
    from shared.admins import AdminUsers

ROLE_HELP = "viewer reads; admin also changes accounts and settings"
password_option = click.option(
    "--password-stdin",
    is_flag=True,
    help="read the password from standard input (a terminal prompts without echo)",
)


def _admins(app: App) -> AbstractContextManager[AdminUsers]:
    from contextlib import contextmanager

    from shared.admins import AdminUsers

    @contextmanager
    def service() -> Iterator[AdminUsers]:
        with app.database.session() as session:
            yield AdminUsers(session, actor=app.actor)

    return service()


@click.group("admins")
def group() -> None:
    """Admin users of the HTTP API (`mailpoll web`): names, roles, passwords."""


@group.command()
@click.argument("name")
@click.option("--role", required=True, metavar="admin|viewer", help=ROLE_HELP)
@password_option
@click.pass_obj
def add(app: App, name: str, role: str, password_stdin: bool) -> None:
    """Add an admin user; the password (at least 12 characters) comes from stdin.

    \b
    Example:
      printf '%s\\n' "$PASSWORD" | mailpoll admins add alice --role admin --password-stdin
    """
    from shared.admins import check_name, check_role

    check_name(name)
    check_role(role)
    password = read_password()
    with _admins(app) as admins:
        admins.add(name, role, password)
    click.echo(f"created: {name} ({role})")


@group.command("list")
@click.option("--json", "as_json", is_flag=True, help="print JSON for scripts")
@click.pass_obj
def list_command(app: App, as_json: bool) -> None:
    """Every admin user with role and dates (never a password hash)."""
    with _admins(app) as admins:
        rows = [
            {
                "name": u.name, "role": u.role, "created_by": u.created_by,
                "created_at": as_utc(u.created_at),
                "password_changed_at": as_utc(u.password_changed_at),
            }
            for u in admins.all()
        ]  # fmt: skip
    if as_json:
        output.emit_json(rows)
    elif not rows:
        click.echo("no admin users yet: add one with `mailpoll admins add NAME --role admin`")
    else:
        output.table(
            ("NAME", "ROLE", "CREATED BY", "PASSWORD CHANGED"),
            [(r["name"], r["role"], r["created_by"], r["password_changed_at"]) for r in rows],
        )


@group.command()
@click.argument("name")
@click.pass_obj
def remove(app: App, name: str) -> None:
    """Remove an admin user; their browser sessions end at once."""
    with _admins(app) as admins:
        admins.remove(name)
    click.echo(f"removed: {name}")


@group.command()
@click.argument("name")
@password_option
@click.pass_obj
def passwd(app: App, name: str, password_stdin: bool) -> None:
    """Set a new password; the user's browser sessions end (sign in again)."""
    with _admins(app) as admins:
        admins.get(name)
    password = read_password()
    with _admins(app) as admins:
        admins.set_password(name, password)
    click.echo(f"updated: {name}")
