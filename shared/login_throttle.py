"""Sign-in throttling per user name and per client address, counted in the database.

Every replica of the web process sees the same failures, so spreading guesses over replicas
gains nothing. Keys are stored as SHA-256: a name typed by mistake (or a password typed into
the name field) is not kept in clear.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from math import ceil

import sqlalchemy as sa
from sqlmodel import Session, col, select

from shared.clock import Clock, utc, utcnow
from shared.db.models import LoginFailure
from shared.tokens import digest


@dataclass(frozen=True)
class Limits:
    """At most `per_user` failures for one name, and `per_address` from one address, within
    `window`; past that, sign-in is refused until the oldest failure leaves the window."""

    per_user: int = 5
    per_address: int = 20
    window: timedelta = timedelta(minutes=15)


class LoginThrottle:
    def __init__(self, session: Session, limits: Limits, *, clock: Clock = utcnow) -> None:
        self._session = session
        self._limits = limits
        self._clock = clock

    def retry_after(self, name: str, address: str) -> int | None:
        """Seconds until a sign-in for `name` from `address` may be tried; None: now."""
        waits = [
            self._wait(_key("user", name), self._limits.per_user),
            self._wait(_key("address", address), self._limits.per_address),
        ]
        return max((w for w in waits if w is not None), default=None)

    def failed(self, name: str, address: str) -> None:
        now = self._clock()
        self._session.add(LoginFailure(key_hash=_key("user", name), at=now))
        self._session.add(LoginFailure(key_hash=_key("address", address), at=now))
        # Old failures count for nothing: drop them as new ones come.
        cutoff = now - self._limits.window
        self._session.execute(sa.delete(LoginFailure).where(col(LoginFailure.at) < cutoff))
        self._session.flush()

    def succeeded(self, name: str) -> None:
        """A right password clears the name's failures (not the address's)."""
        key = _key("user", name)
        self._session.execute(sa.delete(LoginFailure).where(col(LoginFailure.key_hash) == key))

    def _wait(self, key: str, limit: int) -> int | None:
        since = self._clock() - self._limits.window
        query = (
            select(LoginFailure.at)
            .where(LoginFailure.key_hash == key, col(LoginFailure.at) >= since)
            .order_by(col(LoginFailure.at).desc())
            .limit(limit)
        )
        recent = list(self._session.exec(query))
        if len(recent) < limit:
            return None
        # The limit-th newest failure must leave the window before one more try is allowed.
        free_at = utc(recent[-1]) + self._limits.window
        return max(1, ceil((free_at - self._clock()).total_seconds()))


def _key(kind: str, value: str) -> str:
    return digest(f"{kind}:{value}")
