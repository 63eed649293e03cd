"""Export and import (dry run, protected accounts, all or nothing), system settings, paged
status with the shared schedule, and dead letters, over HTTP on PostgreSQL and Redis."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import redis
import sqlalchemy as sa
from sqlmodel import select

from shared import redis_keys
from shared.db.database import Database
from shared.db.models import Account, AccountStatus, DeadLetter
from tests.integration.web.conftest import Api

pytestmark = pytest.mark.integration
SECRET = "Imported-Pa55-word-91"


@pytest.fixture
def database(api: Api) -> Iterator[Database]:
    """The server's database, emptied of accounts and settings: each test starts afresh."""
    database = Database(api.web.env["MAILPOLL_DATABASE_URL"])
    with database.session() as session:
        for table in ("email_accounts", "system_settings", "audit_history"):
            session.execute(sa.text(f"DELETE FROM {table}"))  # noqa: S608  (fixed names)
    yield database
    database.dispose()


@pytest.fixture
def admin(api: Api, database: Database) -> httpx.Client:
    return api.admin()


def account(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "type": "inbound", "host": "imap.example.com", "login": "u", **fields}


def document(*entries: dict[str, Any]) -> bytes:
    return json.dumps({"version": 1, "accounts": list(entries)}).encode()


def names(admin: httpx.Client) -> list[str]:
    return [item["name"] for item in admin.get("/api/accounts").json()["items"]]


def test_an_import_dry_run_reports_every_change_and_writes_nothing(admin: httpx.Client) -> None:
    assert admin.post("/api/accounts", json=account("kept", folder="INBOX")).status_code == 201
    body = document(account("kept", folder="Archive"), account("new", password=SECRET))

    report = admin.post("/api/account-import", params={"dry_run": True}, content=body)

    assert report.status_code == 200, report.text
    assert report.json() | {"changes": None} == {
        "dry_run": True, "written": False, "created": ["new"], "updated": ["kept"],
        "unchanged": [], "skipped_protected": [], "removed": [], "refused": [], "changes": None,
    }  # fmt: skip
    assert report.json()["changes"] == {"kept": {"folder": ["INBOX", "Archive"]}}
    assert names(admin) == ["kept"]
    assert admin.get("/api/accounts/kept").json()["folder"] == "INBOX"


def test_an_import_writes_skips_protected_accounts_and_prunes(admin: httpx.Client) -> None:
    admin.post("/api/accounts", json=account("guarded", protect_during_import=True))
    admin.post("/api/accounts", json=account("stale"))
    body = document(account("guarded", folder="X"), account("fresh", password=SECRET))

    report = admin.post("/api/account-import", params={"prune": True}, content=body).json()

    assert report["written"] is True
    assert report["created"] == ["fresh"]
    assert report["skipped_protected"] == ["guarded"]
    assert report["removed"] == ["stale"]
    assert names(admin) == ["fresh", "guarded"]
    assert admin.get("/api/accounts/fresh").json()["password"] == "(set)"
    assert admin.get("/api/accounts/guarded/history").json()[-1]["action"] == "created"


def test_a_refused_import_is_a_problem_with_the_whole_report(admin: httpx.Client) -> None:
    body = document(account("ok-1"), account("bad-1", polling_interval="soon"), {"type": "x"})

    answer = admin.post("/api/account-import", content=body)

    assert answer.status_code == 422
    problem = answer.json()
    assert problem["field"] == "import"
    assert problem["detail"].startswith("import: 2 problem(s), nothing written")
    assert problem["report"]["refused"] == [
        {"name": "(entry 3)", "reason": "name: is required, as text"},
        {"name": "bad-1", "reason": "polling_interval: must be a whole number of seconds "
         "(got 'soon')"},
    ]  # fmt: skip
    assert names(admin) == []


def test_an_export_never_holds_a_password_in_clear(admin: httpx.Client) -> None:
    admin.post("/api/accounts", json=account("exp-1", password=SECRET))

    plain = admin.get("/api/account-export")
    encrypted = admin.get("/api/account-export", params={"with_secrets": True})

    assert SECRET not in plain.text
    assert "password_encrypted" not in plain.text
    assert SECRET not in encrypted.text
    assert encrypted.json()["accounts"][0]["password_encrypted"].startswith("gAAAA")
    # and the encrypted export imports again on an instance with the same key
    admin.delete("/api/accounts/exp-1")
    again = admin.post("/api/account-import", content=encrypted.content)
    assert again.json()["created"] == ["exp-1"]


def test_settings_show_set_and_history(api: Api, database: Database) -> None:
    browser = api.signed_in("alice", "admin-Pa55word-Q7")

    changed = browser.put("/api/settings/default_polling_interval", json={"value": "120"})
    same = browser.put("/api/settings/default_polling_interval", json={"value": "120"})
    shown = {s["key"]: s for s in browser.get("/api/settings").json()}
    history = browser.get("/api/settings/default_polling_interval/history").json()
    removed = browser.put("/api/settings/default_polling_interval", json={"value": ""})

    assert changed.json()["changed"] is True
    assert same.json()["changed"] is False
    assert shown["default_polling_interval"]["value"] == "120"
    assert shown["default_polling_interval"]["source"] == "database"
    assert [(h["actor"], h["changes"]) for h in history] == [
        ("alice", {"default_polling_interval": [None, "120"]})
    ]
    assert removed.json()["setting"]["source"] == "environment"


def seed_status(database: Database, count: int) -> None:
    now = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    with database.session() as session:
        for n in range(count):
            row = Account(
                name=f"st-{n:03d}", type="inbound", host="h", port=993, protocol="imap",
                login="u", created_by="t", created_at=now, modified_by="t", modified_at=now,
            )  # fmt: skip
            session.add(row)
            session.flush()
            assert row.id is not None
            session.add(AccountStatus(account_id=row.id, last_poll_at=now, consecutive_failures=n))
            if n % 3 == 0:
                session.add(
                    DeadLetter(
                        account_id=row.id, folder="INBOX", uid=n + 1, uidvalidity=1,
                        error="too large", first_failed_at=now, last_failed_at=now, dead=True,
                    )
                )  # fmt: skip


def test_status_comes_in_pages_with_the_schedule_s_next_polls(api: Api, database: Database) -> None:
    seed_status(database, 12)
    with database.session() as session:
        first = session.exec(select(Account).where(Account.name == "st-000")).one()
    due = time.time() + 3600
    with redis.Redis.from_url(api.web.env["MAILPOLL_REDIS_URL"]) as client:
        client.zadd(redis_keys.schedule(), {str(first.id): due})
    viewer = api.viewer()

    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 5} | ({"cursor": cursor} if cursor else {})
        page = viewer.get("/api/status", params=params).json()
        rows += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert [r["account"] for r in rows] == [f"st-{n:03d}" for n in range(12)]
    assert [r["dead_letters"] for r in rows] == [1 if n % 3 == 0 else 0 for n in range(12)]
    assert rows[4]["consecutive_failures"] == 4
    assert datetime.fromisoformat(rows[0]["next_poll_at"]).timestamp() == pytest.approx(due)
    assert rows[1]["next_poll_at"] == "2026-12-01T10:01:00Z"  # estimated: last poll + 60 s


def test_dead_letters_are_listed_and_replayed_with_the_cli_s_checks(
    api: Api, database: Database
) -> None:
    seed_status(database, 4)  # dead letters on st-000 and st-003
    admin = api.admin()
    listed = admin.get("/api/dead-letters").json()["items"]
    ids = [row["id"] for row in listed]

    unknown = admin.post("/api/dead-letters/replay", json={"ids": [ids[0], 999999]})
    replayed = admin.post("/api/dead-letters/replay", json={"ids": [ids[0]]})
    again = admin.post("/api/dead-letters/replay", json={"account": "st-000"})
    of_account = admin.get("/api/dead-letters", params={"account": "st-003"}).json()["items"]

    assert [row["account"] for row in listed] == ["st-000", "st-003"]
    assert unknown.status_code == 422
    assert unknown.json()["detail"] == "id: no dead letter with id 999999"
    assert replayed.json()["message"] == "1 dead letter(s) will be tried again at the next poll"
    assert again.json() == {
        "replayed": 0,
        "already_waiting": 1,
        "message": "0 dead letter(s) will be tried again at the next poll "
        "(1 already waiting for it)",
    }
    assert [row["state"] for row in of_account] == ["dead"]
    assert admin.get("/api/dead-letters", params={"account": "nobody"}).status_code == 404
