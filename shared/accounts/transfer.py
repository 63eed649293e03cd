"""Export and import of email accounts between instances (the documented JSON).

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
    # Each updated account's changed fields as [old, new]; secrets only as (set)/(changed).
    changes: dict[str, dict[str, list[Any]]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.refused


@dataclass(frozen=True)
class _Planned:
    """An entry that passed every check: what to give the service, and the account it makes."""

    name: str
    given: dict[str, Any]
    target: Account | None
    values: dict[str, Any]


def import_accounts(
    service: AccountService,
    secrets: SecretBox,
    document: Any,
    *,
    prune: bool = False,
    source: str = "file",
) -> ImportReport:
    """Create and update accounts by name; with `prune`, remove unprotected ones not listed.

    Raises ConfigError when the document (named `source`) is not an export; every problem of
    every entry is reported, and any problem means nothing is written.
    """
    report = ImportReport()
    entries = _entries(document, source, report)
    plan: list[_Planned] = []
    for name, entry in entries:
        target = service.find(name)
        if target is not None and target.protect_during_import:
            report.skipped_protected.append(name)
            continue
        planned = _check_entry(name, entry, target, secrets, report)
        if planned is not None:
            plan.append(planned)
    _check_outbound(service, plan, {name for name, _ in entries}, prune, report)
    if report.refused:
        return report
    for planned in plan:
        _write(service, planned, report)
    if prune:
        _prune(service, {name for name, _ in entries}, report)
    return report


def _check_entry(
    name: str, entry: dict[str, Any], target: Account | None, secrets: SecretBox,
    report: ImportReport,
) -> _Planned | None:  # fmt: skip
    try:
        given = _given(entry, secrets)
    except MailpollError as error:
        report.refused.append((name, str(error)))
        return None
    current = None if target is None else {k: getattr(target, k) for k in form.FIELDS}
    has_password = bool(target and target.password_encrypted)
    draft, problems = form.check_all(current, given, has_password=has_password)
    report.refused.extend((name, str(problem)) for problem in problems)
    return None if draft is None else _Planned(name, given, target, draft.values)


def _write(service: AccountService, planned: _Planned, report: ImportReport) -> None:
    if planned.target is None:
        service.add(planned.given, action="imported")
        report.created.append(planned.name)
        return
    outcome = service.update(planned.name, planned.given, action="imported")
    if outcome.action == "unchanged":
        report.unchanged.append(planned.name)
    else:
        report.updated.append(planned.name)
        report.changes[planned.name] = outcome.changes


def _prune(service: AccountService, listed: set[str], report: ImportReport) -> None:
    for account in service.list():
        if account.name in listed:
            continue
        if account.protect_during_import:
            report.skipped_protected.append(account.name)
        else:
            service.remove(account.name)
            report.removed.append(account.name)


def _entries(document: Any, source: str, report: ImportReport) -> list[tuple[str, dict[str, Any]]]:
    if not isinstance(document, dict) or not isinstance(document.get("accounts"), list):
        raise ConfigError(source, 'expected a JSON object {"version": 1, "accounts": [...]}')
    version = document.get("version", FORMAT_VERSION)
    if type(version) is not int or version != FORMAT_VERSION:
        raise ConfigError(
            "version",
            f"{version!r} is not understood: this mailpoll reads version {FORMAT_VERSION}",
        )
    entries: list[tuple[str, dict[str, Any]]] = []
    seen: set[str] = set()
    for index, entry in enumerate(document["accounts"], start=1):
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(entry, dict):
            report.refused.append((f"(entry {index})", "must be a JSON object of account fields"))
        elif not isinstance(name, str) or not name:
            report.refused.append((f"(entry {index})", "name: is required, as text"))
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


def _is_active_outbound(values: dict[str, Any]) -> bool:
    return bool(values["type"] == "outbound" and values["enabled"])


def _check_outbound(
    service: AccountService,
    plan: list[_Planned],
    listed: set[str],
    prune: bool,
    report: ImportReport,
) -> None:
    """At most one outbound account may be enabled after the import: refuse the newcomer.

    Accounts that are the enabled outbound one now and stay so keep their place; an entry that
    would make a second one is refused, naming the one already active.
    """
    planned = {p.name: p.values for p in plan}
    active: list[str] = []
    for account in service.list():
        pruned = prune and account.name not in listed and not account.protect_during_import
        now = {"type": account.type, "enabled": account.enabled}
        if (
            not pruned
            and _is_active_outbound(now)
            and _is_active_outbound(planned.get(account.name, now))
        ):
            active.append(account.name)
    for entry in plan:
        if not _is_active_outbound(entry.values) or entry.name in active:
            continue
        if active:
            report.refused.append(
                (entry.name, f"enabled: outbound account {active[0]!r} is already enabled; only "
                 'one outbound account can be active (import this one with "enabled": false, '
                 f"or disable {active[0]!r})")
            )  # fmt: skip
        else:
            active.append(entry.name)
