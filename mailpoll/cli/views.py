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

DEFAULT_MAX_BATCH = 100


def account_view(account: Account) -> dict[str, Any]:
    from shared.accounts import form

    view: dict[str, Any] = {key: getattr(account, key) for key in form.FIELDS}
    view["process_after"] = as_utc(account.process_after)
    if account.auth_type == "local":
        view["password"] = "(set)" if account.password_encrypted else "(not set)"
    if account.auth_type == "oauth2":
        view["client_secret"] = "(set)" if account.client_secret_encrypted else "(not set)"
        view["client_token_instance"] = (
            "(held)" if account.client_token_instance_encrypted else "(none)"
        )
        view["oauth_status"] = account.oauth_status or "not authenticated"
    if account.type == "inbound" and account.max_batch is None:
        view["max_batch"] = DEFAULT_MAX_BATCH
    view["created_by"] = account.created_by
    view["created_at"] = as_utc(account.created_at)
    view["modified_by"] = account.modified_by
    view["modified_at"] = as_utc(account.modified_at)
    return view


def print_history(app: App, *, kind: str, name: str, as_json: bool) -> None:
    """An account's or a setting's audit history, as lines or as JSON."""
    from shared.accounts import audit

    with app.database.session() as session:
        entries = audit.history(session, kind=kind, name=name)
    if as_json:
        output.emit_json([{**e.model_dump(), "changes": json.loads(e.changes)} for e in entries])
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
    sections = ("created", "updated", "unchanged", "skipped_protected", "removed")
    if as_json:
        result: dict[str, Any] = {key: getattr(report, key) for key in sections}
        result["changes"] = report.changes
        result["refused"] = [{"name": n, "reason": r} for n, r in report.refused]
        output.emit_json({"dry_run": dry_run, "written": report.ok and not dry_run, **result})
    else:
        for key in sections:
            for name in getattr(report, key):
                click.echo(f"{key.replace('_', ' ')}: {name}")
                for field, (old, new) in report.changes.get(name, {}).items():
                    click.echo(f"  {field}: {_short(old)} -> {_short(new)}")
        for name, reason in report.refused:
            click.echo(f"refused: {name}: {reason}")
    counts = ", ".join(f"{len(getattr(report, k))} {k.replace('_', ' ')}" for k in sections)
    if report.refused:
        problems = len(report.refused)
        click.echo(f"error: import: {problems} problem(s), nothing written ({counts})", err=True)
    else:
        verdict = "nothing written (dry run)" if dry_run else "done"
        click.echo(f"{counts}: {verdict}", err=True)


def _short(value: Any) -> str:
    text = "-" if value is None else str(value)
    text = text.replace("\n", "\\n")
    return text if len(text) <= 60 else text[:57] + "..."
