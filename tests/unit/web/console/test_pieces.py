"""The console's small pieces: times as people read them, where to go after signing in, and
the health of a page of accounts (one query, whatever the filter)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from shared import status
from shared.accounts import query
from shared.accounts.service import AccountService
from shared.db.models import AccountStatus
from web.console.guard import safe_next
from web.console.pages import ago, due

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("offset", "said"),
    [
        (-5, "5 s ago"),
        (-125, "2 min ago"),
        (-7300, "2 h ago"),
        (-90000, "1 d ago"),
        (20, "in 20 s"),
    ],
)
def test_ago_says_roughly_how_long(offset: int, said: str) -> None:
    assert ago(NOW + timedelta(seconds=offset), NOW) == said


def test_a_time_that_has_passed_is_due_now() -> None:
    assert due(datetime.now(UTC) - timedelta(seconds=3)) == "now"
    assert due(None) == ""


@pytest.mark.parametrize(
    ("given", "goes"),
    [
        ("/status", "/status"),
        ("/accounts?q=x", "/accounts?q=x"),
        ("https://evil.example/", "/accounts"),
        ("//evil.example/", "/accounts"),
        ("/\\evil.example", "/accounts"),
        (None, "/accounts"),
    ],
)
def test_sign_in_goes_on_only_to_a_page_of_this_site(given: str | None, goes: str) -> None:
    assert safe_next(given) == goes


def test_the_health_of_a_filtered_page_comes_in_one_call_for_its_inbound_accounts(
    service: AccountService, session: Session
) -> None:
    for name in ("in-a", "in-b"):
        service.add({"name": name, "type": "inbound", "host": "h.example.com", "login": "x"})
    service.add({"name": "out", "type": "outbound", "host": "s.example.com", "auth_type": "none"})
    failing = service.get("in-b")
    session.add(AccountStatus(account_id=failing.id or 0, consecutive_failures=2,
                              last_error="login refused", last_poll_at=NOW))  # fmt: skip
    session.flush()
    where = query.AccountFilter(search="in-")
    found = query.page(session, where, after=None, limit=10)

    rows = status.of_accounts(session, found, default_interval=60)

    assert query.count(session, where) == 2
    assert set(rows) == {"in-a", "in-b"}
    assert (rows["in-b"].consecutive_failures, rows["in-b"].last_error) == (2, "login refused")
    assert rows["in-a"].last_poll_at is None
    assert status.of_accounts(session, [service.get("out")], default_interval=60) == {}
