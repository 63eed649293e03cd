"""The documented `key=value` account properties: parsing, checking and typed access."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.errors import ConfigError

FIELD = "properties"


# Upper bounds far beyond any sensible value, so that a typo cannot stall a poll for years.
MAX_SECONDS = 7 * 24 * 3600
MAX_COUNT = 1_000_000


def _positive_float(text: str) -> float:
    expected = f"must be a number of seconds greater than 0 and at most {MAX_SECONDS}"
    try:
        value = float(text)
    except ValueError:
        raise ValueError(expected) from None
    if not 0 < value <= MAX_SECONDS:  # also refuses nan and inf
        raise ValueError(expected)
    return value


def _positive_int(text: str) -> int:
    expected = f"must be a whole number of at least 1 and at most {MAX_COUNT}"
    try:
        value = int(text)
    except ValueError:
        raise ValueError(expected) from None
    if not 1 <= value <= MAX_COUNT:
        raise ValueError(expected)
    return value


def _boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"true", "yes", "on", "1"}:
        return True
    if lowered in {"false", "no", "off", "0"}:
        return False
    raise ValueError("must be true or false")


def _existing_file(text: str) -> str:
    if not Path(text).is_file():
        raise ValueError(f"file {text!r} does not exist")
    return text


def _tls_version(text: str) -> str:
    if text not in {"TLSv1.2", "TLSv1.3"}:
        raise ValueError("must be TLSv1.2 or TLSv1.3")
    return text


def _hostname(text: str) -> str:
    if not text or any(c.isspace() for c in text):
        raise ValueError("must be a host name without spaces")
    return text


@dataclass(frozen=True)
class PropertySpec:
    """One documented key: what it does, its type and which account types use it."""

    help: str
    parse: Callable[[str], Any]
    applies_to: frozenset[str] = frozenset({"inbound", "outbound"})
    default: Any = None
    outbound_default: Any = None  # where sending wants another default than polling


BOTH = frozenset({"inbound", "outbound"})
INBOUND = frozenset({"inbound"})
OUTBOUND = frozenset({"outbound"})

SPECS: dict[str, PropertySpec] = {
    "connect_timeout": PropertySpec(
        "seconds to wait for the TCP connection and TLS handshake", _positive_float, BOTH, 10.0
    ),
    "timeout": PropertySpec(
        "seconds to wait for any one server answer (the seed's 10-second send time-out)",
        _positive_float,
        BOTH,
        60.0,
        10.0,
    ),
    "tls_verify": PropertySpec(
        "verify the server certificate (false only for test servers)", _boolean, BOTH, True
    ),
    "tls_check_hostname": PropertySpec(
        "check that the certificate names the host", _boolean, BOTH, True
    ),
    "tls_ca_file": PropertySpec(
        "PEM file of the certificate authorities to trust instead of the system's",
        _existing_file,
    ),
    "tls_min_version": PropertySpec(
        "oldest TLS version accepted: TLSv1.2 or TLSv1.3", _tls_version, BOTH, "TLSv1.2"
    ),
    "fetch_chunk": PropertySpec(
        "messages asked for in one IMAP UID FETCH", _positive_int, INBOUND, 100
    ),
    "max_message_mb": PropertySpec(
        "largest message taken, in MiB; larger ones go to the dead-letter list",
        _positive_int,
        INBOUND,
        100,
    ),
    "poll_budget_seconds": PropertySpec(
        "most seconds one poll may run before it hands over to an immediate next poll",
        _positive_float,
        INBOUND,
        300.0,
    ),
    "smtp_helo": PropertySpec(
        "the name mailpoll gives in EHLO/HELO (default: this host's name)", _hostname, OUTBOUND
    ),
    "idle": PropertySpec(
        "push: a `mailpoll watcher` holds an IMAP IDLE connection on the folder and asks for a "
        "poll the moment mail arrives (IMAP only)",
        _boolean,
        INBOUND,
        False,
    ),
    "idle_poll_interval": PropertySpec(
        "seconds: while IDLE works, the account is still polled at least this often (the safety "
        "net for a missed notification); polling_interval applies whenever IDLE does not work",
        _positive_float,
        INBOUND,
        900.0,
    ),
}


def parse_lines(text: str | None) -> dict[str, str]:
    """Split `key=value` lines; blank lines and `#` comments are allowed, repeats are not."""
    result: dict[str, str] = {}
    for number, raw in enumerate((text or "").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise ConfigError(FIELD, f"line {number}: expected key=value, got {line!r}")
        if key in result:
            raise ConfigError(FIELD, f"line {number}: {key!r} is given twice")
        result[key] = value
    return result


def format_lines(values: dict[str, str]) -> str:
    """The canonical text form: one `key=value` a line, keys sorted."""
    return "\n".join(f"{key}={values[key]}" for key in sorted(values))


def check(text: str | None, account_type: str) -> str:
    """Refuse unknown keys, keys of the other account type and bad values; return canonical text."""
    values = parse_lines(text)
    for key, value in values.items():
        spec = SPECS.get(key)
        if spec is None:
            known = ", ".join(sorted(SPECS))
            raise ConfigError(FIELD, f"unknown key {key!r} (known keys: {known})")
        if account_type not in spec.applies_to:
            raise ConfigError(FIELD, f"{key!r} does not apply to {account_type} accounts")
        try:
            spec.parse(value)
        except ValueError as error:
            raise ConfigError(FIELD, f"{key}={value!r}: {error}") from None
    return format_lines(values)


@dataclass(frozen=True)
class Properties:
    """Typed view of an account's properties, with the documented defaults filled in."""

    connect_timeout: float
    timeout: float
    tls_verify: bool
    tls_check_hostname: bool
    tls_ca_file: str | None
    tls_min_version: str
    fetch_chunk: int
    max_message_mb: int
    poll_budget_seconds: float
    smtp_helo: str | None
    idle: bool
    idle_poll_interval: float

    @classmethod
    def of(cls, text: str | None, account_type: str) -> Properties:
        values = parse_lines(text)
        typed: dict[str, Any] = {}
        for key, spec in SPECS.items():
            default = spec.default
            if account_type == "outbound" and spec.outbound_default is not None:
                default = spec.outbound_default
            typed[key] = spec.parse(values[key]) if key in values else default
        return cls(**typed)
