"""Accounts over HTTP against a real server on PostgreSQL: create, read, page, filter, search,
update with If-Match (lost updates refused), rename, enable, disable, remove, history."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlmodel import select

from shared.db.database import Database
from shared.db.models import Account, AccountStatus
from tests.integration.web.conftest import ADMIN_PASSWORD, Api

pytestmark = pytest.mark.integration


def inbound(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "type": "inbound", "host": "imap.example.com", "login": "u", **fields}


@pytest.fixture
def admin(api: Api) -> httpx.Client:
    return api.admin()


@pytest.fixture
def database(api: Api) -> Iterator[Database]:
    database = Database(api.web.env["MAILPOLL_DATABASE_URL"])
    yield database
    database.dispose()


def create(client: httpx.Client, fields: dict[str, Any]) -> httpx.Response:
    answer = client.post("/api/accounts", json=fields)
    assert answer.status_code == 201, answer.text
    return answer


def test_an_account_is_created_shown_and_tagged(admin: httpx.Client) -> None:
    made = create(admin, inbound("crud-1", password="pw-crud-1", polling_interval=30))
    shown = admin.get("/api/accounts/crud-1")

    assert made.headers["Location"] == "/api/accounts/crud-1"
    assert made.json()["action"] == "created"
    assert shown.status_code == 200
    assert shown.headers["ETag"] == made.headers["ETag"]
    view = shown.json()
    assert view["port"] == 993
    assert view["polling_interval"] == 30
    assert view["password"] == "(set)"
    assert view["created_by"] == "token:svc-admin"
    assert "password_encrypted" not in view


def test_a_refused_value_is_a_problem_naming_the_field(admin: httpx.Client) -> None:
    answer = admin.post("/api/accounts", json=inbound("bad-1", max_batch=0))

    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["field"] == "max_batch"
    assert answer.json()["detail"].startswith("max_batch: must be")
    assert admin.get("/api/accounts/bad-1").status_code == 404


def test_an_update_needs_the_etag_it_read(admin: httpx.Client) -> None:
    tag = create(admin, inbound("etag-1")).headers["ETag"]

    missing = admin.patch("/api/accounts/etag-1", json={"polling_interval": 40})
    stale = admin.patch(
        "/api/accounts/etag-1", json={"polling_interval": 40}, headers={"If-Match": '"0"'}
    )
    done = admin.patch(
        "/api/accounts/etag-1", json={"polling_interval": 40}, headers={"If-Match": tag}
    )

    assert missing.status_code == 428
    assert stale.status_code == 412
    assert done.status_code == 200, done.text
    assert done.json()["changes"] == {"polling_interval": [None, 40]}
    assert done.headers["ETag"] != tag
    assert admin.get("/api/accounts/etag-1").headers["ETag"] == done.headers["ETag"]


def test_the_second_of_two_admins_saving_gets_412(api: Api, admin: httpx.Client) -> None:
    create(admin, inbound("race-1"))
    first, second = admin, api.signed_in("alice", ADMIN_PASSWORD)
    tag = first.get("/api/accounts/race-1").headers["ETag"]
    assert second.get("/api/accounts/race-1").headers["ETag"] == tag

    saved = first.patch("/api/accounts/race-1", json={"folder": "A"}, headers={"If-Match": tag})
    lost = second.patch("/api/accounts/race-1", json={"folder": "B"}, headers={"If-Match": tag})

    assert saved.status_code == 200
    assert lost.status_code == 412
    assert admin.get("/api/accounts/race-1").json()["folder"] == "A"


def save_together(api: Api, name: str, tag: str, values: list[str]) -> list[int]:
    """Each value saved by its own client at the same moment, all with the same If-Match."""
    start = threading.Barrier(len(values))
    answers: list[int] = []

    def save(client: httpx.Client, value: str) -> None:
        start.wait()
        patch = {"description": value}
        answer = client.patch(f"/api/accounts/{name}", json=patch, headers={"If-Match": tag})
        answers.append(answer.status_code)

    threads = [threading.Thread(target=save, args=(api.admin(), v)) for v in values]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return answers


def test_simultaneous_saves_of_one_version_let_exactly_one_through(
    api: Api, admin: httpx.Client
) -> None:
    create(admin, inbound("race-2"))
    for round_ in range(5):
        tag = admin.get("/api/accounts/race-2").headers["ETag"]

        answers = save_together(api, "race-2", tag, [f"a{round_}", f"b{round_}"])

        assert sorted(answers) == [200, 412], answers


def test_rename_enable_disable_remove_and_history(api: Api) -> None:
    browser = api.signed_in("alice", ADMIN_PASSWORD)
    tag = create(browser, inbound("life-1")).headers["ETag"]

    renamed = browser.patch(
        "/api/accounts/life-1", json={"name": "life-2"}, headers={"If-Match": tag}
    )
    disabled = browser.post("/api/accounts/life-2/disable")
    enabled = browser.post("/api/accounts/life-2/enable")
    again = browser.post("/api/accounts/life-2/enable")
    history = browser.get("/api/accounts/life-2/history").json()
    removed = browser.delete("/api/accounts/life-2")

    assert renamed.json()["account"]["name"] == "life-2"
    assert browser.get("/api/accounts/life-1").status_code == 404
    assert disabled.json()["action"] == "disabled"
    assert enabled.json()["action"] == "enabled"
    assert again.json()["action"] == "unchanged"
    assert [h["action"] for h in history] == ["updated", "disabled", "enabled"]
    assert {h["actor"] for h in history} == {"alice"}  # the signed-in user
    assert removed.status_code == 204
    assert browser.get("/api/accounts/life-2").status_code == 404
    assert browser.get("/api/accounts/life-2/history").json()[-1]["action"] == "removed"


def test_a_second_enabled_outbound_account_is_refused_with_the_name_of_the_first(
    admin: httpx.Client,
) -> None:
    relay = {"type": "outbound", "host": "smtp.example.com", "auth_type": "none"}
    create(admin, {"name": "relay-1", **relay})

    second = admin.post("/api/accounts", json={"name": "relay-2", **relay})

    assert second.status_code == 422
    assert second.json()["field"] == "enabled"
    assert "'relay-1'" in second.json()["detail"]


def test_pages_cover_every_account_once_in_name_order(api: Api, admin: httpx.Client) -> None:
    names = {f"page-{n:03d}" for n in range(23)}
    for name in sorted(names):
        create(admin, inbound(name))
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 5, "search": "page-"}
        if cursor:
            params["cursor"] = cursor
        page = api.viewer().get("/api/accounts", params=params).json()
        seen += [item["name"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == sorted(names)
    assert pages == 5


def test_filters_and_search(admin: httpx.Client, database: Database) -> None:
    create(admin, inbound("filt-imap", description="Billing mailbox"))
    create(admin, inbound("filt-pop", protocol="pop3", enabled=False, host="pop.example.org"))
    with database.session() as session:
        account = session.exec(select(Account).where(Account.name == "filt-imap")).one()
        session.add(AccountStatus(account_id=account.id, consecutive_failures=2))

    def names(**params: Any) -> list[str]:
        answer = admin.get("/api/accounts", params={"search": "filt-", "limit": 500, **params})
        assert answer.status_code == 200, answer.text
        return [item["name"] for item in answer.json()["items"]]

    assert names() == ["filt-imap", "filt-pop"]
    assert names(protocol="pop3") == ["filt-pop"]
    assert names(enabled=False) == ["filt-pop"]
    assert names(failing=True) == ["filt-imap"]
    assert names(failing=False) == ["filt-pop"]
    assert names(type="outbound") == []
    assert names(search="BILLING") == ["filt-imap"]  # the description, any case
    assert names(search="pop.example") == ["filt-pop"]  # the host
    assert names(search="%") == []  # a wildcard is a character like any other


def test_a_bad_cursor_or_page_size_is_refused(admin: httpx.Client) -> None:
    cursor = admin.get("/api/accounts", params={"cursor": "!!not a cursor!!"})
    limit = admin.get("/api/accounts", params={"limit": 501})

    assert cursor.status_code == 422
    assert cursor.json()["field"] == "cursor"
    assert limit.status_code == 422
    assert limit.json()["field"] == "limit"
