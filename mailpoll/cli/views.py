"""What `show`, `list --json` and `history` print of an account: never a secret's value."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import click

from mailpoll.cli import output
from shared.clock import as_utc

if TYPE_CHECKING:
    from mailpoll.app import App
    from shared.accounts.transfer import ImportReport
    from shared.db.models import Account, AuditEntry


def account_view(account: Account) -> dict[str, Any]:
    from shared.accounts.display import account_view as view

    return view(account)


def print_history(app: App, *, kind: str, name: str, as_json: bool) -> None:
    """An account's or a setting's audit history, as lines or as JSON."""
    from shared.accounts import audit
    from shared.accounts.display import history_view

    with app.database.session() as session:
        entries = audit.history(session, kind=kind, name=name)
    if as_json:
        output.emit_json(history_view(entries))
        return
    if not entries:
        click.echo(f"no history for {name!r}")
    for line in history_lines(entries):
        click.echo(line)


def history_lines(entries: list[AuditEntry]) -> Iterator[str]:
    for entry in entries:
        when = as_utc(entry.at)
        stamp = when.strftime("%Y-%m-%d %H:%M:%SZ") if when else "-"
        changes = json.loads(entry.changes)
        detail = "; ".join(f"{k}: {_short(v[0])} -> {_short(v[1])}" for k, v in changes.items())
        yield f"{stamp}  {entry.actor}  {entry.action}  {detail}".rstrip()


def print_import_report(report: ImportReport, *, as_json: bool, dry_run: bool) -> None:
    """What an import did (or, with --dry-run, would do), with each updated account's diff.

    Refused entries are listed one problem a line; the closing line on stderr is an `error:`
    line when anything was refused, since then nothing was written.
    """
    from shared.accounts.display import IMPORT_SECTIONS as sections
    from shared.accounts.display import import_outcome, import_report_view

    if as_json:
        output.emit_json(import_report_view(report, dry_run=dry_run))
    else:
        for key in sections:
            for name in getattr(report, key):
                click.echo(f"{key.replace('_', ' ')}: {name}")
                for field, (old, new) in report.changes.get(name, {}).items():
                    click.echo(f"  {field}: {_short(old)} -> {_short(new)}")
        for name, reason in report.refused:
            click.echo(f"refused: {name}: {reason}")
    outcome = import_outcome(report, dry_run=dry_run)
    click.echo(f"error: {outcome}" if report.refused else outcome, err=True)


def _short(value: Any) -> str:
    text = "-" if value is None else str(value)
    text = text.replace("\n", "\\n")
    return text if len(text) <= 60 else text[:57] + "..."
