"""Export and import of email accounts between instances (CONTRACT.md's JSON).

An import is all or nothing: every entry is checked first, and one refusal writes nothing.
An account whose `protect_during_import` is set on the target is never overwritten or removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.accounts import form
from shared.accounts.service import AccountService
from shared.clock import utc
from shared.db.models import Account
from shared.errors import ConfigError, MailpollError
from shared.secrets import SecretBox

FORMAT_VERSION = 1
ENCRYPTED_PASSWORD = "password_encrypted"  # noqa: S105  (a field name)


def export_accounts(accounts: list[Account], *, with_secrets: bool = False) -> dict[str, Any]:
    """The export document. Passwords appear only encrypted, and only when asked for."""
    entries = []
    for account in accounts:
        entry: dict[str, Any] = {}
        for key in form.FIELDS:
            value = getattr(account, key)
            if value is None or (key == "port" and account.use_default_port):
                continue  # blank, or computed again on the target
            entry[key] = utc(value).isoformat() if isinstance(value, datetime) else value
        if with_secrets and account.password_encrypted:
            entry[ENCRYPTED_PASSWORD] = account.password_encrypted
        entries.append(entry)
    return {"version": FORMAT_VERSION, "accounts": entries}


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped_protected: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (name, one-line reason)

    @property
    def ok(self) -> bool:
        return not self.refused


def import_accounts(
    service: AccountService, secrets: SecretBox, document: Any, *, prune: bool = False
) -> ImportReport:
    """Create and update accounts by name; with `prune`, remove unprotected ones not listed."""
    report = ImportReport()
    entries = _entries(document, report)
    plan: list[tuple[str, dict[str, Any], Account | None]] = []
    for name, entry in entries:
        target = service.find(name)
        if target is not None and target.protect_during_import:
            report.skipped_protected.append(name)
            continue
        try:
            given = _given(entry, secrets)
            current = None if target is None else {k: getattr(target, k) for k in form.FIELDS}
            form.build(current, given, has_password=bool(target and target.password_encrypted))
        except MailpollError as error:
            report.refused.append((name, str(error)))
            continue
        plan.append((name, given, target))
    _check_outbound(service, plan, {name for name, _ in entries}, prune, report)
    if report.refused:
        return report
    for name, given, target in plan:
        if target is None:
            service.add(given, action="imported")
            report.created.append(name)
        else:
            outcome = service.update(name, given, action="imported")
            (report.unchanged if outcome.action == "unchanged" else report.updated).append(name)
    if prune:
        listed = {name for name, _ in entries}
        for account in service.list():
            if account.name in listed:
                continue
            if account.protect_during_import:
                report.skipped_protected.append(account.name)
            else:
                service.remove(account.name)
                report.removed.append(account.name)
    return report


def _entries(document: Any, report: ImportReport) -> list[tuple[str, dict[str, Any]]]:
    if not isinstance(document, dict) or not isinstance(document.get("accounts"), list):
        report.refused.append(("(file)", 'expected a JSON object {"accounts": [...]}'))
        return []
    entries: list[tuple[str, dict[str, Any]]] = []
    seen: set[str] = set()
    for index, entry in enumerate(document["accounts"], start=1):
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name:
            report.refused.append((f"(entry {index})", "name: is required"))
        elif name in seen:
            report.refused.append((name, "name: listed twice in the file"))
        else:
            seen.add(name)
            entries.append((name, dict(entry)))
    return entries


def _given(entry: dict[str, Any], secrets: SecretBox) -> dict[str, Any]:
    """The entry as account fields; an encrypted password must open with this instance's key."""
    token = entry.pop(ENCRYPTED_PASSWORD, None)
    if token is not None:
        if "password" in entry:
            raise ConfigError("password", "give either password or password_encrypted")
        entry["password"] = secrets.decrypt(str(token), what="password_encrypted")
    return entry


def _check_outbound(
    service: AccountService,
    plan: list[tuple[str, dict[str, Any], Account | None]],
    listed: set[str],
    prune: bool,
    report: ImportReport,
) -> None:
    """After the import at most one outbound account may be enabled; name the clash if not."""
    enabled: dict[str, bool] = {}
    for account in service.list():
        pruned = prune and account.name not in listed and not account.protect_during_import
        if account.type == "outbound" and account.enabled and not pruned:
            enabled[account.name] = True
    for name, given, target in plan:
        kind = given.get("type", target.type if target else None)
        active = given.get("enabled", target.enabled if target else True)
        enabled.pop(name, None)
        if kind == "outbound" and active not in (False, "false", 0):
            enabled[name] = True
    if len(enabled) > 1:
        names = sorted(enabled)
        report.refused.append(
            (names[-1], f"enabled: outbound account {names[0]!r} would also be enabled; "
             "only one outbound account can be active")
        )  # fmt: skip
