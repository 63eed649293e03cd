"""`mailpoll accounts ...`: configure, inspect, export and import email accounts."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mailpoll.cli import output
from mailpoll.cli.account_options import account_options, given_values
from mailpoll.cli.configtest import authenticate_command, test_command
from mailpoll.cli.views import account_view, print_history, print_import_report
from shared.errors import ConfigError

if TYPE_CHECKING:
    from mailpoll.app import App
    from shared.accounts.service import Outcome

json_option = click.option("--json", "as_json", is_flag=True, help="print JSON for scripts")


@click.group("accounts")
def group() -> None:
    """Configure the inbound (IMAP, POP3) and outbound (SMTP) email accounts."""


@group.command("list")
@json_option
@click.pass_obj
def list_accounts(app: App, as_json: bool) -> None:
    """List every account, enabled or not."""
    with app.accounts() as service:
        accounts = service.list()
    if as_json:
        output.emit_json([account_view(a) for a in accounts])
        return
    if not accounts:
        click.echo("no email accounts yet: add one with `mailpoll accounts add`")
        return
    headers = ("NAME", "TYPE", "ENABLED", "PROTOCOL", "HOST", "PORT", "ENCRYPTION", "AUTH")
    rows = [
        (a.name, a.type, a.enabled, a.protocol or "smtp", a.host, a.port, a.encryption, a.auth_type)
        for a in accounts
    ]
    output.table(headers, rows)


@group.command()
@click.argument("name")
@json_option
@click.pass_obj
def show(app: App, name: str, as_json: bool) -> None:
    """Show one account's settings and audit stamps (secrets only as set / not set)."""
    from shared.oauth_store import token_fields

    with app.accounts() as service:
        account = service.get(name)
    view = {**account_view(account), **token_fields(account, lambda: app.secrets)}
    if as_json:
        output.emit_json(view)
    else:
        output.block(list(view.items()))


@group.command()
@click.argument("name")
@account_options(for_update=False)
@click.pass_obj
def add(app: App, /, name: str, **options: Any) -> None:
    """Add an account. `--type` and `--host` are required; the rest have defaults.

    \b
    Example:
      printf '%s\\n' "$PASSWORD" | mailpoll accounts add support --type inbound \\
          --host imap.example.com --login support@example.com --password-stdin
    """
    given = {"name": name, **given_values(options, None)}
    with app.accounts() as service:
        outcome = service.add(given)
    _report(outcome)


@group.command()
@click.argument("name")
@account_options(for_update=True)
@click.pass_obj
def update(app: App, /, name: str, **options: Any) -> None:
    """Change the options given; the others keep their values. An empty value clears a field."""
    with app.accounts() as service:
        current = service.get(name)
        outcome = service.update(name, given_values(options, current.properties))
    _report(outcome)


@group.command()
@click.argument("name")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@click.pass_obj
def remove(app: App, name: str, yes: bool) -> None:
    """Remove an account with its poll state (stored messages stay in the upload dir)."""
    if not yes and os.isatty(0):
        click.confirm(f"Remove account {name!r}?", abort=True, err=True)
    with app.accounts() as service:
        _report(service.remove(name))


@group.command()
@click.argument("name")
@click.pass_obj
def enable(app: App, name: str) -> None:
    """Enable an account (refused for a second outbound account: only one may be active)."""
    with app.accounts() as service:
        _report(service.set_enabled(name, True))


@group.command()
@click.argument("name")
@click.pass_obj
def disable(app: App, name: str) -> None:
    """Disable an account: it is neither polled nor used to send."""
    with app.accounts() as service:
        _report(service.set_enabled(name, False))


@group.command()
@click.argument("name")
@json_option
@click.pass_obj
def history(app: App, name: str, as_json: bool) -> None:
    """Who changed the account, when, and each field's old and new value (secrets redacted)."""
    print_history(app, kind="account", name=name, as_json=as_json)


@group.command("export")
@click.option("--file", "path", type=click.Path(dir_okay=False, path_type=Path), help="write here")
@click.option(
    "--with-secrets",
    is_flag=True,
    help="include passwords ENCRYPTED with this instance's key (for a target sharing the key)",
)
@click.pass_obj
def export_command(app: App, path: Path | None, with_secrets: bool) -> None:
    """Write every account as JSON (stdout by default). Passwords are never written in clear."""
    from shared.accounts.transfer import export_accounts

    with app.accounts() as service:
        document = export_accounts(service.list(), with_secrets=with_secrets)
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if path is None:
        click.echo(text, nl=False)
        return
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    temporary.replace(path)
    click.echo(f"exported {len(document['accounts'])} account(s) to {path}", err=True)


@group.command("import")
@click.argument("file", type=click.File("rb"))
@click.option("--dry-run", is_flag=True, help="check and report, change nothing")
@click.option("--prune", is_flag=True, help="also remove unprotected accounts not in FILE")
@json_option
@click.pass_obj
def import_command(app: App, file: Any, dry_run: bool, prune: bool, as_json: bool) -> None:
    """Create and update accounts from an export. Protected accounts are never touched.

    All or nothing: if any account is refused, nothing is written (exit code 2). Each updated
    account's changed fields are listed (secrets only as changed).
    """
    from shared.accounts.transfer import import_accounts

    document = _read_json(file)
    with app.database.session() as session:
        service = app.account_service(session)
        report = import_accounts(service, app.secrets, document, prune=prune, source=file.name)
        if dry_run or not report.ok:
            session.rollback()
    print_import_report(report, as_json=as_json, dry_run=dry_run)
    if not report.ok:
        raise click.exceptions.Exit(2)


def _read_json(file: Any) -> Any:
    """The file's JSON; UTF-8 with or without a byte-order mark, as editors save it."""
    from shared.accounts.documents import parse

    try:
        data = file.read()
    except OSError as error:
        raise ConfigError(file.name, f"cannot be read: {error.strerror or error}") from None
    return parse(data, file.name)


def _report(outcome: Outcome) -> None:
    for message in outcome.notes:
        output.note(message)
    click.echo(f"{outcome.action}: {outcome.account.name}")


group.add_command(test_command)
group.add_command(authenticate_command)
