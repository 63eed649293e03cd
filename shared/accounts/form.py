"""Turns the values an administrator gives into a complete, checked email account.

`build` merges the given fields over the stored account (or the defaults of a new one),
coerces them to their column types, applies the seed's rules and computes the default port.
Nothing here touches the database, so a refusal can never leave a half-written account.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from shared.accounts import rules
from shared.db.models import AccountBase
from shared.errors import ConfigError

FIELDS: tuple[str, ...] = tuple(AccountBase.model_fields)
SECRET_FIELDS = ("password",)
# Optional text fields where an empty string means "blank" and is stored as NULL.
_BLANKABLE = frozenset(
    name for name, info in AccountBase.model_fields.items() if not info.is_required()
) - {"properties", "description"}
# Valid values that stand in for a refused required field while the other fields are checked.
_STAND_INS = {"name": "stand-in", "host": "stand-in.invalid"}
_STORED_PASSWORD = object()  # stands in for a stored password while the rules run
# Fields that may hold line breaks; every other text field is one line.
_MULTI_LINE = frozenset({"description", "properties", "client_token_config"})
DATE_TIME = "not a date-time: use ISO 8601 like 2026-11-23T10:00:00Z"


@dataclass
class Draft:
    """A checked account: column values, secrets to (re)encrypt, and notes for the user."""

    values: dict[str, Any]
    password: str | None = None  # new clear password; None: keep what is stored
    clear_password: bool = False  # the stored password no longer applies
    client_secret: str | None = None
    notes: list[str] = field(default_factory=list)


def build(
    current: dict[str, Any] | None, given: dict[str, Any], *, has_password: bool = False
) -> Draft:
    """Merge `given` over `current` (None for a new account) and check the result."""
    unknown = sorted(set(given) - set(FIELDS) - set(SECRET_FIELDS))
    if unknown:
        raise ConfigError(unknown[0], f"unknown field (known fields: {', '.join(FIELDS)})")
    _check_text(given)
    given = {k: (None if v == "" and k in _BLANKABLE else v) for k, v in given.items()}
    merged = _start(current, given)
    _settle_port_choice(merged, given)
    values = _coerce(merged)
    rules.check_choices(values)
    password = given.get("password")
    values["password"] = password or (_STORED_PASSWORD if has_password else None)
    notes = rules.apply_availability(values, set(given))
    kept_password = values.pop("password")
    if values["use_default_port"]:
        values["port"] = rules.default_port(
            values["type"], values["protocol"], values["encryption"]
        )
    rules.check_values(values)
    draft = Draft(values=values, notes=notes, password=password or None)
    draft.clear_password = has_password and kept_password is None
    if "client_token_config" in given and values["client_token_config"]:
        values["client_token_config"], draft.client_secret = rules.check_token_config(
            values["client_token_config"]
        )
    lacks_password = not password and (not has_password or draft.clear_password)
    if values["type"] == "inbound" and values["auth_type"] == "local" and lacks_password:
        draft.notes.append("password is not set: logins will fail until it is")
    return draft


def check_all(
    current: dict[str, Any] | None, given: dict[str, Any], *, has_password: bool = False
) -> tuple[Draft | None, list[ConfigError]]:
    """The checked account, or every problem of `given`, not only the first (for an import).

    `build` stops at the first problem; to find the next, the field it blamed is left out (or
    a required one stood in for) and the checks run again, until they pass or blame a field
    that was not given or was blamed already.
    """
    problems: list[ConfigError] = []
    remaining = dict(given)
    while True:
        try:
            draft = build(current, remaining, has_password=has_password)
        except ConfigError as error:
            if any(error.field == seen.field for seen in problems):
                return None, problems
            problems.append(error)
            if error.field not in remaining:
                return None, problems
            if error.field in _STAND_INS:
                remaining[error.field] = _STAND_INS[error.field]
            else:
                del remaining[error.field]
        else:
            return (None, problems) if problems else (draft, [])


def _start(current: dict[str, Any] | None, given: dict[str, Any]) -> dict[str, Any]:
    if current is not None:
        merged = {k: current[k] for k in FIELDS}
        merged.update({k: v for k, v in given.items() if k in FIELDS})
        if merged["type"] == "inbound" and current["type"] != "inbound":
            _inbound_defaults(merged)
        return merged
    for required in ("name", "type", "host"):
        if given.get(required) in (None, ""):
            raise ConfigError(required, "is required")
    merged = {k: v for k, v in given.items() if k in FIELDS}
    if merged["type"] == "inbound":
        _inbound_defaults(merged)
    return merged


def _inbound_defaults(merged: dict[str, Any]) -> None:
    if merged.get("protocol") is None:
        merged["protocol"] = "imap"
    if merged.get("on_email_received") is None:
        merged["on_email_received"] = "leave"


def _settle_port_choice(merged: dict[str, Any], given: dict[str, Any]) -> None:
    """A port given by hand switches the default port off; giving both is a contradiction."""
    if given.get("port") is not None:
        if given.get("use_default_port") is True:
            raise ConfigError("port", "give either a port or use_default_port, not both")
        merged["use_default_port"] = False
    elif merged.get("use_default_port") is False and merged.get("port") is None:
        raise ConfigError("port", "is required when use_default_port is off")
    if merged.get("port") is None:
        merged["port"] = 0  # replaced by the default port once protocol and encryption are known


def _check_text(given: dict[str, Any]) -> None:
    """Refuse text no database or mail server takes: undecodable bytes, NUL, line breaks."""
    for key, value in given.items():
        if key in SECRET_FIELDS and value is not None and not isinstance(value, str):
            raise ConfigError(key, "must be text")
        if not isinstance(value, str):
            continue
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ConfigError(key, "is not UTF-8 text (it holds an undecodable byte)") from None
        if "\x00" in value:
            raise ConfigError(key, "must not contain NUL characters")
        if key not in _MULTI_LINE and any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ConfigError(key, "must not contain line breaks or other control characters")


def _coerce(merged: dict[str, Any]) -> dict[str, Any]:
    try:
        model = AccountBase.model_validate(merged)
    except ValidationError as error:
        raise _explain(error.errors()[0]) from None
    values = model.model_dump()
    after = values["process_after"]
    if isinstance(after, datetime):
        # A date-time without a zone is read as UTC, and every stored one is kept in UTC.
        zone = after.tzinfo or UTC
        try:
            values["process_after"] = after.replace(tzinfo=zone).astimezone(UTC)
        except OverflowError:  # 0001-01-01T00:00+01:00 is before the year 1 in UTC
            raise ConfigError("process_after", f"{DATE_TIME} (got {str(after)!r})") from None
    return values


def _explain(error: ErrorDetails) -> ConfigError:
    """A value of the wrong type, said as what the field expects rather than in pydantic's words."""
    where = str(error["loc"][0]) if error["loc"] else "account"
    got, kind = error.get("input"), error["type"]
    if kind == "string_too_long":
        most = error.get("ctx", {}).get("max_length")
        return ConfigError(where, f"must be at most {most} characters (got {len(got)})")
    if kind.startswith(("datetime", "date")):
        expected = DATE_TIME
    elif kind.startswith("int"):
        unit = rules.BOUNDS[where][2] if where in rules.BOUNDS else ""
        expected = f"must be a whole number of {unit}" if unit else "must be a whole number"
    elif kind.startswith("bool"):
        expected = "must be true or false"
    elif kind.startswith("string"):
        expected = "must be text"
    else:
        expected = error["msg"]
    shown = repr(got)
    return ConfigError(
        where, f"{expected} (got {shown if len(shown) <= 80 else shown[:77] + '...'})"
    )
