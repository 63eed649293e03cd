"""Admin users, API tokens, browser sessions and sign-in throttling on a real (SQLite) schema:
only hashes stored, expiry by idle time and by age, limits per user and per address."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from shared.admins import AdminUsers
from shared.db.models import AdminUser, ApiToken, LoginFailure, WebSession
from shared.errors import ConfigError, NotFoundError
from shared.login_throttle import Limits, LoginThrottle
from shared.tokens import ApiTokens, digest
from shared.web_sessions import Lifetime, WebSessions

PASSWORD = "a long enough password"
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def admins(session: Session, clock: Clock) -> AdminUsers:
    return AdminUsers(session, actor="tester", clock=clock)


def test_a_password_is_stored_only_as_an_argon2id_hash(
    admins: AdminUsers, session: Session
) -> None:
    admins.add("alice", "admin", PASSWORD)

    stored = session.exec(select(AdminUser)).one()
    assert stored.password_hash.startswith("$argon2id$")
    assert PASSWORD not in stored.password_hash
    assert admins.verify("alice", PASSWORD) is not None
    assert admins.verify("alice", PASSWORD + "x") is None
    assert admins.verify("nobody", PASSWORD) is None
    assert admins.verify("alice", "\ud800 lone surrogate") is None


@pytest.mark.parametrize(
    ("name", "role", "password", "error"),
    [
        ("bad name", "admin", PASSWORD, "name: must start with a letter or digit"),
        ("alice", "root", PASSWORD, "role: must be one of admin, viewer (got 'root')"),
        ("alice", "admin", "short", "password: must be at least 12 characters long"),
        ("alice", "admin", "x" * 1025, "password: must be at most 1024 characters long"),
        ("alice", "admin", PASSWORD + "\x00", "password: must not contain NUL characters"),
    ],
)
def test_bad_admin_values_are_refused_with_the_field(
    admins: AdminUsers, name: str, role: str, password: str, error: str
) -> None:
    with pytest.raises(ConfigError, match="^" + re.escape(error)):
        admins.add(name, role, password)


def test_names_are_unique_and_unknown_ones_are_named(admins: AdminUsers) -> None:
    admins.add("alice", "admin", PASSWORD)

    with pytest.raises(ConfigError, match="an admin user named 'alice' exists already"):
        admins.add("alice", "viewer", PASSWORD)
    with pytest.raises(NotFoundError, match="no admin user named 'bob'"):
        admins.remove("bob")


def test_a_token_is_shown_once_and_stored_as_its_hash(session: Session, clock: Clock) -> None:
    tokens = ApiTokens(session, actor="tester", clock=clock)

    row, clear = tokens.create("svc", "viewer")

    assert clear.startswith("mpt_")
    assert len(clear) > 40
    stored = session.exec(select(ApiToken)).one()
    assert stored.token_hash == digest(clear)
    assert clear not in (stored.hint + stored.token_hash)
    assert tokens.authenticate(clear) is row
    assert tokens.authenticate(clear + "x") is None
    tokens.revoke("svc")
    assert tokens.authenticate(clear) is None


def test_a_token_s_last_use_is_written_at_most_once_a_minute(
    session: Session, clock: Clock
) -> None:
    tokens = ApiTokens(session, actor="tester", clock=clock)
    row, clear = tokens.create("svc", "admin")

    tokens.authenticate(clear)
    clock.now += timedelta(seconds=30)
    tokens.authenticate(clear)
    assert row.last_used_at == START
    clock.now += timedelta(seconds=31)
    tokens.authenticate(clear)
    assert row.last_used_at == clock.now


LIFETIME = Lifetime(idle=timedelta(minutes=30), absolute=timedelta(hours=12))


def signed_in(session: Session, clock: Clock) -> tuple[WebSessions, str]:
    user = AdminUsers(session, actor="t", clock=clock).add("alice", "viewer", PASSWORD)
    sessions = WebSessions(session, LIFETIME, clock=clock)
    cookie, who = sessions.start(user)
    assert (who.name, who.role) == ("alice", "viewer")
    return sessions, cookie


def test_a_session_ends_after_its_idle_time(session: Session, clock: Clock) -> None:
    sessions, cookie = signed_in(session, clock)
    stored = session.exec(select(WebSession)).one()
    assert stored.session_hash == digest(cookie)

    clock.now += timedelta(minutes=29)
    assert sessions.find(cookie) is not None  # and it was seen now: the idle time restarts
    clock.now += timedelta(minutes=29)
    assert sessions.find(cookie) is not None
    clock.now += timedelta(minutes=30)
    assert sessions.find(cookie) is None
    assert session.exec(select(WebSession)).all() == []


def test_a_session_ends_at_its_absolute_lifetime_however_busy(
    session: Session, clock: Clock
) -> None:
    sessions, cookie = signed_in(session, clock)

    for _ in range(23):
        clock.now += timedelta(minutes=30, seconds=-1)
        assert sessions.find(cookie) is not None
    clock.now = START + timedelta(hours=12)
    assert sessions.find(cookie) is None


def test_sign_out_a_new_password_and_removal_end_sessions(session: Session, clock: Clock) -> None:
    sessions, cookie = signed_in(session, clock)
    admins = AdminUsers(session, actor="t", clock=clock)

    sessions.end(cookie)
    assert sessions.find(cookie) is None
    user = admins.get("alice")
    cookie = sessions.start(user)[0]
    admins.set_password("alice", PASSWORD + "!")
    assert sessions.find(cookie) is None
    cookie = sessions.start(user)[0]
    admins.remove("alice")
    assert sessions.find(cookie) is None


def test_sign_in_is_throttled_per_user_then_free_again(session: Session, clock: Clock) -> None:
    throttle = LoginThrottle(session, Limits(per_user=3, per_address=100), clock=clock)
    for _ in range(3):
        assert throttle.retry_after("alice", "10.0.0.1") is None
        throttle.failed("alice", "10.0.0.1")
        clock.now += timedelta(minutes=1)

    assert throttle.retry_after("alice", "10.0.0.2") == 12 * 60  # the first failure ages out
    assert throttle.retry_after("bob", "10.0.0.1") is None
    clock.now += timedelta(minutes=13)
    assert throttle.retry_after("alice", "10.0.0.1") is None


def test_sign_in_is_throttled_per_address_whatever_the_name(session: Session, clock: Clock) -> None:
    throttle = LoginThrottle(session, Limits(per_user=100, per_address=4), clock=clock)
    for n in range(4):
        throttle.failed(f"guess{n}", "10.0.0.9")

    assert throttle.retry_after("alice", "10.0.0.9") == 15 * 60
    assert throttle.retry_after("alice", "10.0.0.8") is None


def test_a_right_password_clears_the_name_s_failures_only(session: Session, clock: Clock) -> None:
    throttle = LoginThrottle(session, Limits(per_user=2, per_address=3), clock=clock)
    throttle.failed("alice", "10.0.0.1")
    throttle.failed("alice", "10.0.0.1")

    throttle.succeeded("alice")
    throttle.failed("bob", "10.0.0.1")

    assert throttle.retry_after("alice", "10.0.0.2") is None
    assert throttle.retry_after("carol", "10.0.0.1") == 15 * 60
    assert all(len(f.key_hash) == 64 for f in session.exec(select(LoginFailure)))


def test_old_failures_are_deleted_as_new_ones_come(session: Session, clock: Clock) -> None:
    throttle = LoginThrottle(session, Limits(), clock=clock)
    throttle.failed("alice", "10.0.0.1")
    clock.now += timedelta(hours=1)

    throttle.failed("bob", "10.0.0.2")

    assert len(session.exec(select(LoginFailure)).all()) == 2  # bob's two, alice's gone
