"""Operator commands: the database schema and the encryption key."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from mailpoll.app import App


@click.group()
def db() -> None:
    """The configuration database's schema (every command also upgrades it on start)."""


@db.command()
@click.pass_obj
def upgrade(app: App) -> None:
    """Bring the schema to the newest revision; safe to run from many replicas at once."""
    from shared.db import migrate

    database = app.database  # upgrades on first use
    click.echo(f"schema at revision {migrate.current_revision(database.engine)}")


@db.command()
@click.pass_obj
def status(app: App) -> None:
    """Print the schema revision of the database and the one this mailpoll expects."""
    from shared.db import migrate
    from shared.db.database import Database

    database = Database(app.settings.effective_database_url)
    current = migrate.current_revision(database.engine) or "(empty)"
    click.echo(f"database: {current}\nexpected: {migrate.head_revision()}")


@click.command("secret-key")
def secret_key() -> None:
    """Print a new random key for MAILPOLL_SECRET_KEY (give every process of a cluster the same)."""
    from shared.secrets import new_key

    click.echo(new_key())
