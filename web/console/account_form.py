"""The account form's values: from a stored account, from a posted form, and to the service.

Which fields are available comes from the shared rules (`rules.APPLICABILITY`), and the default
port from `rules.default_port`, so the page shows exactly what the service will accept.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from starlette.datastructures import FormData

from shared.accounts import rules
from web.console.fields import BASIC_SETTINGS, BY_NAME, EDITABLE

Values = dict[str, Any]
NEW_ACCOUNT: Values = {
    "name": "", "enabled": True, "protect_during_import": False, "type": "inbound", "host": "",
    "protocol": "imap", "encryption": "ssl", "use_default_port": True, "port": "",
    "auth_type": "local", "on_email_received": "leave", "properties": "", "description": "",
    "delete_read_messages": False, "debug": False,
}  # fmt: skip
_READ_ONLY = ("client_token_instance", "oauth_status", "token_who", "token_scopes",
              "token_expires_at", "password", "client_secret")  # fmt: skip


def from_view(view: Mapping[str, Any], *, max_batch: int | None) -> Values:
    """The form's values for an account as the API shows it (secrets only as set/not set);
    `max_batch` as stored (blank shows the default, and saving it unchanged changes nothing)."""
    values: Values = {key: view.get(key) for key in EDITABLE if key != "password"}
    values["max_batch"] = max_batch
    after = view.get("process_after")
    values["process_after"] = _local_input(after) if isinstance(after, datetime) else ""
    for key in _READ_ONLY:
        if key in view:
            values[key] = view[key]
    values["password_set"] = view.get("password") == "(set)"
    return values


def from_form(form: FormData, base: Mapping[str, Any]) -> Values:
    """What the administrator has on screen: the posted fields over `base` (the stored or new
    account, for the read-only fields); an unticked checkbox is not posted, so it is False."""
    values: Values = dict(base)
    for spec in (*BASIC_SETTINGS, BY_NAME["description"]):
        if spec.kind == "readonly":
            continue
        if spec.kind == "checkbox":
            values[spec.name] = spec.name in form
        elif spec.name in form:
            raw = form[spec.name]
            # Browsers send a textarea's line breaks as CRLF; the account keeps LF.
            values[spec.name] = raw.replace("\r\n", "\n") if isinstance(raw, str) else ""
    return values


def available(values: Mapping[str, Any]) -> set[str]:
    """The fields shown for these values: the seed's "Available when" rules."""
    facts = {
        "type": values.get("type"),
        "auth_type": values.get("auth_type"),
        "on_email_received": values.get("on_email_received"),
        "delete_read_messages": bool(values.get("delete_read_messages")),
    }
    shown = set()
    for spec in BASIC_SETTINGS:
        rule = rules.APPLICABILITY.get(spec.rule) if spec.rule else None
        if rule is None or rule.holds(facts):
            shown.add(spec.name)
    if not values.get("use_default_port"):
        shown.discard("default_port")
    return shown


def default_port(values: Mapping[str, Any]) -> int | None:
    """What Use Default Port computes for these values; None for a combination with none."""
    try:
        return rules.default_port(
            str(values.get("type")), values.get("protocol"), str(values.get("encryption"))
        )
    except KeyError:
        return None


def given(values: Mapping[str, Any]) -> dict[str, Any]:
    """What the service is given: the fields available on screen, a password only when typed,
    the port only when it is not the default one."""
    shown = available(values)
    result: dict[str, Any] = {}
    for key in EDITABLE:
        if key not in shown and key != "description":
            continue
        value = values.get(key)
        if key == "password" and not value:
            continue
        if key == "port" and values.get("use_default_port"):
            continue
        result[key] = value
    return result


def _local_input(when: datetime) -> str:
    """A UTC time as a datetime-local input shows it (the page says the time is UTC)."""
    return when.strftime("%Y-%m-%dT%H:%M:%S")
