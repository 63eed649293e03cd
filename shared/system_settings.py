"""The system settings: stored in the database, else the environment, else defaults.

A value set with `mailpoll settings set` is shared by every process of a cluster, so it wins
over a process's environment; `settings show` says where each value comes from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from shared.accounts import audit, rules
from shared.clock import Clock, utcnow
from shared.db.models import SystemSetting
from shared.errors import ConfigError
from shared.settings import Settings


def _address(key: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        rules.check_address(key, value)
        return value

    return check


def _interval(value: str) -> str:
    least, most, unit = rules.BOUNDS["polling_interval"]
    if not value.isascii() or not value.isdigit():
        raise ConfigError(
            "default_polling_interval", f"must be a whole number of {unit} (got {value!r})"
        )
    if not least <= int(value) <= most:
        raise ConfigError(
            "default_polling_interval",
            f"must be between {least} and {most} {unit} (got {value})",
        )
    return str(int(value))


def _directory(value: str) -> str:
    if any(ord(c) < 32 for c in value):
        raise ConfigError("upload_directory", "must not contain control characters")
    return value


@dataclass(frozen=True)
class SettingSpec:
    help: str
    check: Callable[[str], str]
    from_environment: Callable[[Settings], Any] = lambda _settings: None


SPECS: dict[str, SettingSpec] = {
    "system_email_address": SettingSpec(
        "From address of mail mailpoll sends itself; the owner of the outbound account",
        _address("system_email_address"),
    ),
    "feedback_email_address": SettingSpec(
        "where `mailpoll feedback` sends users' messages", _address("feedback_email_address")
    ),
    "error_reporting_email_address": SettingSpec(
        "receives a report when an account fails repeatedly",
        _address("error_reporting_email_address"),
    ),
    "default_polling_interval": SettingSpec(
        "seconds between polls of accounts that set no interval (MAILPOLL_DEFAULT_POLL_INTERVAL)",
        _interval,
        lambda settings: settings.default_poll_interval,
    ),
    "upload_directory": SettingSpec(
        "where received messages are saved (MAILPOLL_UPLOAD_DIR)",
        _directory,
        lambda settings: settings.effective_upload_dir,
    ),
}


@dataclass(frozen=True)
class SettingValue:
    key: str
    value: str | None
    source: str  # database, environment or unset
    help: str


class SystemSettings:
    """Reads and writes the system settings, auditing every change."""

    def __init__(
        self, session: Session, settings: Settings, *, actor: str, clock: Clock = utcnow
    ) -> None:
        self._session = session
        self._settings = settings
        self._actor = actor
        self._clock = clock

    def all(self) -> list[SettingValue]:
        stored = {row.key: row.value for row in self._session.exec(select(SystemSetting))}
        result = []
        for key, spec in SPECS.items():
            if key in stored:
                result.append(SettingValue(key, stored[key], "database", spec.help))
                continue
            fallback = spec.from_environment(self._settings)
            source = "environment" if fallback is not None else "unset"
            value = None if fallback is None else str(fallback)
            result.append(SettingValue(key, value, source, spec.help))
        return result

    def get(self, key: str) -> str | None:
        return next(item.value for item in self.all() if item.key == _known(key))

    def set(self, key: str, value: str) -> bool:
        """Store `value` (empty: remove, falling back to the environment); True if it changed."""
        spec = SPECS[_known(key)]
        value = value.strip()
        row = self._session.get(SystemSetting, key)
        old = row.value if row else None
        new = spec.check(value) if value else None
        if old == new:
            return False
        now = self._clock()
        if new is None:
            if row is not None:
                self._session.delete(row)
        elif row is None:
            self._session.add(
                SystemSetting(key=key, value=new, modified_by=self._actor, modified_at=now)
            )
        else:
            row.value, row.modified_by, row.modified_at = new, self._actor, now
        audit.record(
            self._session, kind="setting", name=key, action="updated",
            actor=self._actor, at=now, changes={key: [old, new]},
        )  # fmt: skip
        self._session.flush()
        return True


def _known(key: str) -> str:
    if key not in SPECS:
        raise ConfigError("setting", f"unknown key {key!r} (known keys: {', '.join(SPECS)})")
    return key
