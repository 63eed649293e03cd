"""Signed-in browsers: a random session id in a cookie, stored only as its SHA-256.

A session ends when idle too long, when it reaches its absolute lifetime, at sign-out, and
when its user's password changes or the user is removed. Each carries a CSRF token that
unsafe requests authenticated by the cookie must echo.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from shared.clock import Clock, utc, utcnow
from shared.db.models import AdminUser, WebSession
from shared.tokens import digest

# last_seen_at is written at most this often; idle expiry is that much less exact.
_TOUCH_EVERY = timedelta(seconds=30)


@dataclass(frozen=True)
class Lifetime:
    idle: timedelta
    absolute: timedelta


@dataclass(frozen=True)
class SignedIn:
    """A live session: who, with which role now, and the CSRF token to check."""

    name: str
    role: str
    csrf_token: str


class WebSessions:
    """Starts, finds and ends browser sessions."""

    def __init__(self, session: Session, lifetime: Lifetime, *, clock: Clock = utcnow) -> None:
        self._session = session
        self._lifetime = lifetime
        self._clock = clock

    def start(self, user: AdminUser) -> tuple[str, SignedIn]:
        """A new session for `user`: the cookie value (not stored) and what it stands for."""
        assert user.id is not None
        clear = secrets.token_urlsafe(32)
        now = self._clock()
        row = WebSession(
            session_hash=digest(clear), admin_id=user.id, csrf_token=secrets.token_urlsafe(32),
            created_at=now, last_seen_at=now,
        )  # fmt: skip
        self._session.add(row)
        self._forget_expired(now)
        self._session.flush()
        return clear, SignedIn(user.name, user.role, row.csrf_token)

    def find(self, clear: str) -> SignedIn | None:
        """Who the cookie signs in, or None when it is unknown or expired (then it is ended)."""
        query = (
            select(WebSession, AdminUser)
            .join(AdminUser, col(AdminUser.id) == col(WebSession.admin_id))
            .where(WebSession.session_hash == digest(clear))
        )
        found = self._session.exec(query).first()
        if found is None:
            return None
        row, user = found
        now = self._clock()
        if self._expired(row, now):
            self._session.delete(row)
            return None
        if now - utc(row.last_seen_at) > _TOUCH_EVERY:
            row.last_seen_at = now
        return SignedIn(user.name, user.role, row.csrf_token)

    def end(self, clear: str) -> None:
        self._session.execute(
            sa.delete(WebSession).where(col(WebSession.session_hash) == digest(clear))
        )

    def _expired(self, row: WebSession, now: datetime) -> bool:
        idle_until = utc(row.last_seen_at) + self._lifetime.idle
        ends = utc(row.created_at) + self._lifetime.absolute
        return now >= idle_until or now >= ends

    def _forget_expired(self, now: datetime) -> None:
        """Sessions idle past the limit are deleted when someone signs in: the table does not
        grow with every browser that never signed out."""
        cutoff = now - self._lifetime.idle
        self._session.execute(sa.delete(WebSession).where(col(WebSession.last_seen_at) < cutoff))
