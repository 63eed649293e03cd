"""What people and clients are shown of accounts, their history and an import: never a secret.

`mailpoll accounts show|list --json|history --json|import --json` and the admin API give the
same documents, so a script can move from one to the other.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from shared.accounts import form
from shared.clock import as_utc
from shared.db.models import Account, AuditEntry

if TYPE_CHECKING:  # `accounts list` loads no encryption library
    from shared.accounts.transfer import ImportReport

DEFAULT_MAX_BATCH = 100
IMPORT_SECTIONS = ("created", "updated", "unchanged", "skipped_protected", "removed")


def account_view(account: Account) -> dict[str, Any]:
    """Every field of the account; secrets only as set / not set."""
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


def history_view(entries: list[AuditEntry]) -> list[dict[str, Any]]:
    """Audit entries, oldest first, each change as [old, new] (secrets redacted when written)."""
    return [
        {**entry.model_dump(), "at": as_utc(entry.at), "changes": json.loads(entry.changes)}
        for entry in entries
    ]


def import_report_view(report: ImportReport, *, dry_run: bool) -> dict[str, Any]:
    """What an import did or (dry run) would do: names per outcome, each update's changes,
    every refusal with its one-line reason."""
    result: dict[str, Any] = {key: getattr(report, key) for key in IMPORT_SECTIONS}
    result["changes"] = report.changes
    result["refused"] = [{"name": name, "reason": reason} for name, reason in report.refused]
    return {"dry_run": dry_run, "written": report.ok and not dry_run, **result}


def import_outcome(report: ImportReport, *, dry_run: bool) -> str:
    """The closing line of an import: counts, and whether anything was written (after a
    refusal the command line prints it as its `error:` line, the API as the problem)."""
    counts = ", ".join(f"{len(getattr(report, k))} {k.replace('_', ' ')}" for k in IMPORT_SECTIONS)
    if report.refused:
        return f"import: {len(report.refused)} problem(s), nothing written ({counts})"
    return f"{counts}: {'nothing written (dry run)' if dry_run else 'done'}"
