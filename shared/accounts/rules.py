"""The seed's "available when" rules and value checks for an email account's fields.

Pure functions over plain dicts, so the CLI, the import and Test Configuration all refuse the
same things with the same one-line messages (`field: what is wrong`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

from shared import properties
from shared.errors import ConfigError

TYPES = ("inbound", "outbound")
PROTOCOLS = ("imap", "pop3")
ENCRYPTIONS = ("none", "ssl", "starttls")
AUTH_TYPES = ("local", "external", "oauth2", "none")
ON_RECEIVED = ("leave", "mark_read", "move", "delete")
TOKEN_CONFIG_URLS = ("authorize_url", "token_url", "device_authorization_url", "redirect_uri")
TOKEN_CONFIG_KEYS = frozenset(
    {"provider", "client_id", "client_secret", "scopes", *TOKEN_CONFIG_URLS}
)

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_@-]{0,99}$")
HOST_PATTERN = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:]+:[0-9A-Fa-f:.]*|[A-Za-z0-9_.-]+)$")

# (least, most, unit) of the whole-number fields. The upper bounds are far beyond any sensible
# setting, and keep every value inside a PostgreSQL integer column.
BOUNDS: dict[str, tuple[int, int, str]] = {
    "polling_interval": (1, 7 * 24 * 3600, "seconds"),  # a week
    "max_batch": (1, 100_000, "messages"),
    "ignore_older_than_hours": (1, 100 * 8766, "hours"),  # a hundred years
    "delete_after_days": (0, 36_500, "days"),  # a hundred years
}

DEFAULT_PORTS: dict[tuple[str, str], int] = {
    ("imap", "none"): 143,
    ("imap", "starttls"): 143,
    ("imap", "ssl"): 993,
    ("pop3", "none"): 110,
    ("pop3", "starttls"): 110,
    ("pop3", "ssl"): 995,
    ("smtp", "none"): 25,
    ("smtp", "starttls"): 587,
    ("smtp", "ssl"): 465,
}


def default_port(account_type: str, protocol: str | None, encryption: str) -> int:
    """The port the seed's "Use Default Port" computes from protocol and encryption."""
    wire = "smtp" if account_type == "outbound" else (protocol or "imap")
    return DEFAULT_PORTS[(wire, encryption)]


@dataclass(frozen=True)
class Applicability:
    """When a field is available, as the seed says it ("Available when ...")."""

    when: str
    holds: Callable[[Mapping[str, Any]], bool]


def _inbound(v: Mapping[str, Any]) -> bool:
    return bool(v["type"] == "inbound")


INBOUND = Applicability("type is inbound", _inbound)
APPLICABILITY: dict[str, Applicability] = {
    **{
        field: INBOUND
        for field in (
            "protocol",
            "on_email_received",
            "folder",
            "polling_interval",
            "max_batch",
            "process_after",
            "ignore_older_than_hours",
            "delete_read_messages",
        )
    },
    "test_to": Applicability("type is outbound", lambda v: v["type"] == "outbound"),
    "move_to_folder": Applicability(
        "on_email_received is move", lambda v: _inbound(v) and v["on_email_received"] == "move"
    ),
    "delete_after_days": Applicability(
        "delete_read_messages is set", lambda v: _inbound(v) and bool(v["delete_read_messages"])
    ),
    "login": Applicability(
        "auth_type is local or oauth2", lambda v: v["auth_type"] in ("local", "oauth2")
    ),
    "password": Applicability("auth_type is local", lambda v: v["auth_type"] == "local"),
    "username_key": Applicability("auth_type is external", lambda v: v["auth_type"] == "external"),
    "password_key": Applicability("auth_type is external", lambda v: v["auth_type"] == "external"),
    "client_token_config": Applicability(
        "auth_type is oauth2", lambda v: v["auth_type"] == "oauth2"
    ),
}


def _is_unset(value: Any) -> bool:
    return value is None or value is False or value == ""


def apply_availability(values: dict[str, Any], given: set[str]) -> list[str]:
    """Refuse a field the user gave where it is not available; clear stored ones, with a note.

    A field that was stored earlier and stops applying (say, `folder` after a change to
    outbound) is cleared rather than kept as a hidden value; the returned notes say so.
    """
    notes: list[str] = []
    for field, rule in APPLICABILITY.items():
        if _is_unset(values.get(field)) or rule.holds(values):
            continue
        if field in given:
            raise ConfigError(field, f"not available for this account (only when {rule.when})")
        values[field] = False if isinstance(values.get(field), bool) else None
        notes.append(f"{field} cleared: it applies only when {rule.when}")
    return notes


def check_choices(values: Mapping[str, Any]) -> None:
    """The fields the other rules branch on must hold one of their documented values."""
    _check_choice(values, "type", TYPES)
    _check_choice(values, "encryption", ENCRYPTIONS)
    _check_choice(values, "auth_type", AUTH_TYPES)
    if values["type"] == "inbound":
        _check_choice(values, "protocol", PROTOCOLS)
        _check_choice(values, "on_email_received", ON_RECEIVED)
        if values["auth_type"] == "none":
            raise ConfigError("auth_type", "none is only for outbound relays")


def check_values(values: dict[str, Any]) -> None:
    """Value rules that span fields or go beyond the column types. Raises ConfigError."""
    check_name(values["name"])
    _check_host(values["host"])
    if values["type"] == "inbound" and values["protocol"] == "pop3":
        _check_pop3(values)
    if values["on_email_received"] == "move":
        _required(values, "move_to_folder", "on_email_received is move")
    for field in ("folder", "move_to_folder"):
        if values.get(field):
            check_folder(field, values[field])
    if values["auth_type"] == "external":
        _required(values, "username_key", "auth_type is external")
        _required(values, "password_key", "auth_type is external")
    if values["auth_type"] in ("local", "oauth2"):
        _required(values, "login", f"auth_type is {values['auth_type']}")
    if values["auth_type"] == "oauth2":
        _required(values, "client_token_config", "auth_type is oauth2")
    if values.get("test_to"):
        check_address("test_to", values["test_to"])
    for field, (least, most, unit) in BOUNDS.items():
        _check_bounds(field, values.get(field), least, most, unit)
    if not 1 <= values["port"] <= 65535:
        raise ConfigError("port", f"must be between 1 and 65535 (got {values['port']})")
    values["properties"] = properties.check(values["properties"], values["type"])


def check_name(name: str) -> None:
    if not NAME_PATTERN.fullmatch(name):
        raise ConfigError(
            "name",
            f"{name!r} must be 1-100 letters, digits, '_', '-' or '@', starting with a letter "
            "or digit (it appears in event routing keys)",
        )


def check_folder(field: str, folder: str) -> None:
    """Refuse a folder name that could escape the upload directory or confuse the server."""
    if len(folder) > 255:
        raise ConfigError(field, "must be at most 255 characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in folder):
        raise ConfigError(field, "must not contain control characters")
    if folder.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", folder):
        raise ConfigError(field, f"{folder!r} must not be an absolute path")
    segments = re.split(r"[/\\]", folder)
    if any(segment in ("", ".", "..") for segment in segments):
        raise ConfigError(field, f"{folder!r} must not contain empty, '.' or '..' parts")


def check_address(field: str, text: str) -> None:
    """A single plain address; no display names, spaces or line breaks (header injection)."""
    _, address = parseaddr(text)
    if (
        address != text
        or text.count("@") != 1
        or any(c.isspace() or ord(c) < 32 for c in text)
        or not all(text.split("@"))
    ):
        raise ConfigError(field, f"{text!r} is not an email address like name@example.com")


def check_token_config(text: str) -> tuple[str, str | None]:
    """Parse the OAuth2 client token configuration; return it without its secret, and the secret.

    The client secret is split off so that it can be encrypted like a password.
    """
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError("client_token_config", f"not valid JSON ({error.msg})") from None
    if not isinstance(config, dict):
        raise ConfigError("client_token_config", "must be a JSON object")
    unknown = set(config) - TOKEN_CONFIG_KEYS
    if unknown:
        known = ", ".join(sorted(TOKEN_CONFIG_KEYS))
        raise ConfigError(
            "client_token_config", f"unknown key {sorted(unknown)[0]!r} (known keys: {known})"
        )
    for key in ("client_id", "token_url"):
        if not isinstance(config.get(key), str) or not config[key]:
            raise ConfigError("client_token_config", f"{key!r} is required")
    for key in TOKEN_CONFIG_URLS:
        if key in config and not _is_http_url(config[key]):
            raise ConfigError("client_token_config", f"{key!r} must be an http(s) URL")
    scopes = config.get("scopes", "")
    if not isinstance(scopes, str) and not (
        isinstance(scopes, list) and all(isinstance(s, str) for s in scopes)
    ):
        raise ConfigError("client_token_config", "'scopes' must be a string or a list of strings")
    if not isinstance(config.get("provider", ""), str):
        raise ConfigError("client_token_config", "'provider' must be a string")
    secret = config.pop("client_secret", None)
    if secret is not None and not isinstance(secret, str):
        raise ConfigError("client_token_config", "'client_secret' must be a string")
    return json.dumps(config, sort_keys=True), secret


def _is_http_url(value: Any) -> bool:
    return (
        isinstance(value, str)
        and value.startswith(("https://", "http://"))
        and not any(c.isspace() or ord(c) < 32 for c in value)
    )


def _check_choice(values: Mapping[str, Any], field: str, choices: tuple[str, ...]) -> None:
    if values.get(field) not in choices:
        raise ConfigError(field, f"must be one of {', '.join(choices)} (got {values.get(field)!r})")


def _check_host(host: str) -> None:
    if not host:
        raise ConfigError("host", "is required")
    if len(host) > 253 or not HOST_PATTERN.fullmatch(host):
        raise ConfigError("host", f"{host!r} is not a host name or IP address")


def _check_pop3(values: Mapping[str, Any]) -> None:
    if values["on_email_received"] in ("mark_read", "move"):
        raise ConfigError(
            "on_email_received",
            f"{values['on_email_received']} is not possible with POP3 (use leave or delete)",
        )
    if values.get("folder") not in (None, "INBOX"):
        raise ConfigError("folder", "POP3 has only INBOX: leave folder blank")


def _required(values: Mapping[str, Any], field: str, when: str) -> None:
    if _is_unset(values.get(field)):
        raise ConfigError(field, f"is required when {when}")


def _check_bounds(field: str, value: int | None, least: int, most: int, unit: str) -> None:
    if value is None:
        return
    if value < least:
        raise ConfigError(field, f"must be at least {least} (got {value})")
    if value > most:
        raise ConfigError(field, f"must be at most {most} {unit} (got {value})")
