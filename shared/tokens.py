"""API tokens for services: bearer tokens with a role, of which only a SHA-256 is stored.

A token is shown once, when it is made (`mailpoll tokens create`); a revoked token is
deleted, so the next request that carries it is refused.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlmodel import Session, col, select

from shared.accounts import audit
from shared.admins import NAME_PATTERN, check_name, check_role
from shared.clock import Clock, as_utc, utcnow
from shared.db.models import ApiToken
from shared.errors import ConfigError, NotFoundError

PREFIX = "mpt_"  # says what a leaked string is, to people and to secret scanners
# last_used_at is written at most this often: a busy service is not a write per request.
_TOUCH_EVERY = timedelta(minutes=1)


def digest(text: str) -> str:
    """The SHA-256 stored in place of a token or session id (both are long random strings,
    so a fast hash is enough; passwords get argon2id)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class ApiTokens:
    """Creates, lists, revokes and checks API tokens."""

    def __init__(self, session: Session, *, actor: str, clock: Clock = utcnow) -> None:
        self._session = session
        self._actor = actor
        self._clock = clock

    def all(self) -> list[ApiToken]:
        return list(self._session.exec(select(ApiToken).order_by(col(ApiToken.name))))

    def create(self, name: str, role: str) -> tuple[ApiToken, str]:
        """The stored token and the token itself, which is not kept and cannot be shown again."""
        check_name(name)
        check_role(role)
        if self._find(name) is not None:
            raise ConfigError("name", f"a token named {name!r} exists already")
        clear = PREFIX + secrets.token_urlsafe(32)
        token = ApiToken(
            name=name, role=role, token_hash=digest(clear), hint=clear[: len(PREFIX) + 4],
            created_by=self._actor, created_at=self._clock(),
        )  # fmt: skip
        self._session.add(token)
        self._audit(name, "created", {"role": [None, role]})
        self._session.flush()
        return token, clear

    def revoke(self, name: str) -> ApiToken:
        token = self._find(name)
        if token is None:
            raise NotFoundError(f"no API token named {name!r}")
        self._session.delete(token)
        self._audit(name, "removed", {"role": [token.role, None]})
        self._session.flush()
        return token

    def authenticate(self, clear: str) -> ApiToken | None:
        """The token's row if `clear` is a token that exists (not revoked), else None."""
        query = select(ApiToken).where(ApiToken.token_hash == digest(clear))
        token = self._session.exec(query).first()
        if token is not None:
            now = self._clock()
            last = as_utc(token.last_used_at)
            if last is None or now - last > _TOUCH_EVERY:
                token.last_used_at = now
        return token

    def _find(self, name: str) -> ApiToken | None:
        if not NAME_PATTERN.fullmatch(name):
            return None  # no stored name looks like it
        return self._session.exec(select(ApiToken).where(ApiToken.name == name)).first()

    def _audit(self, name: str, action: str, changes: dict[str, list[str | None]]) -> None:
        audit.record(
            self._session, kind="token", name=name, action=action,
            actor=self._actor, at=self._clock(), changes=changes,
        )  # fmt: skip
