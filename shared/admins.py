"""The people who use the admin API: names, roles and argon2id password hashes.

`mailpoll admins` and the sign-in route use this one service, so both refuse the same names,
roles and passwords with the same words. Only the hash of a password is ever stored.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, select

from shared.accounts import audit
from shared.clock import Clock, utcnow
from shared.db.models import AdminUser, WebSession
from shared.errors import ConfigError, NotFoundError

ROLES = ("admin", "viewer")  # viewer reads; admin also writes
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")
MIN_PASSWORD, MAX_PASSWORD = 12, 1024
_HASHER = PasswordHasher()  # argon2id with the RFC 9106 low-memory parameters
# Verified against when the name is unknown, so that a wrong name takes as long as a wrong
# password and sign-in does not tell which names exist.
_DUMMY_HASH = _HASHER.hash("not the password of anyone")


def check_name(name: str, what: str = "name") -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise ConfigError(
            what,
            "must start with a letter or digit and hold only letters, digits and _ . @ - "
            f"(at most 100 characters; got {name[:40]!r})",
        )
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ConfigError("role", f"must be one of {', '.join(ROLES)} (got {role[:40]!r})")
    return role


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ConfigError("password", f"must be at least {MIN_PASSWORD} characters long")
    if len(password) > MAX_PASSWORD:
        raise ConfigError("password", f"must be at most {MAX_PASSWORD} characters long")
    if "\x00" in password:
        raise ConfigError("password", "must not contain NUL characters")
    return password


class AdminUsers:
    """Adds, lists, changes and removes admin users, and checks a sign-in's password."""

    def __init__(self, session: Session, *, actor: str, clock: Clock = utcnow) -> None:
        self._session = session
        self._actor = actor
        self._clock = clock

    def all(self) -> list[AdminUser]:
        return list(self._session.exec(select(AdminUser).order_by(col(AdminUser.name))))

    def find(self, name: str) -> AdminUser | None:
        if not NAME_PATTERN.fullmatch(name):
            return None  # no stored name looks like it
        return self._session.exec(select(AdminUser).where(AdminUser.name == name)).first()

    def get(self, name: str) -> AdminUser:
        user = self.find(name)
        if user is None:
            raise NotFoundError(f"no admin user named {name!r}")
        return user

    def add(self, name: str, role: str, password: str) -> AdminUser:
        check_name(name)
        check_role(role)
        check_password(password)
        if self.find(name) is not None:
            raise ConfigError("name", f"an admin user named {name!r} exists already")
        now = self._clock()
        user = AdminUser(
            name=name, role=role, password_hash=_HASHER.hash(password),
            created_by=self._actor, created_at=now, password_changed_at=now,
        )  # fmt: skip
        self._session.add(user)
        self._audit(name, "created", {"role": [None, role], "password": ["(not set)", "(set)"]})
        self._session.flush()
        return user

    def set_password(self, name: str, password: str) -> AdminUser:
        """A new password; the user's browser sessions end (they were signed in with the old)."""
        user = self.get(name)
        check_password(password)
        user.password_hash = _HASHER.hash(password)
        user.password_changed_at = self._clock()
        self._end_sessions(user)
        self._audit(name, "updated", {"password": ["(set)", "(changed)"]})
        self._session.flush()
        return user

    def remove(self, name: str) -> AdminUser:
        user = self.get(name)
        self._end_sessions(user)
        self._session.delete(user)
        self._audit(name, "removed", {"role": [user.role, None]})
        self._session.flush()
        return user

    def verify(self, name: str, password: str) -> AdminUser | None:
        """The user if `password` is theirs, else None; as slow for unknown names."""
        user = self.find(name)
        try:
            _HASHER.verify(user.password_hash if user else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError, UnicodeEncodeError):
            return None  # UnicodeEncodeError: JSON can carry lone surrogates; no password has
        if user is None:
            return None
        if _HASHER.check_needs_rehash(user.password_hash):  # stronger parameters since
            user.password_hash = _HASHER.hash(password)
        return user

    def _end_sessions(self, user: AdminUser) -> None:
        """A new password or a removed user ends every browser session of that user."""
        if user.id is not None:
            self._session.execute(sa.delete(WebSession).where(col(WebSession.admin_id) == user.id))

    def _audit(self, name: str, action: str, changes: dict[str, list[str | None]]) -> None:
        audit.record(
            self._session, kind="admin", name=name, action=action,
            actor=self._actor, at=self._clock(), changes=changes,
        )  # fmt: skip
