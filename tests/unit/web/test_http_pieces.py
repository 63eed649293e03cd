"""The web layer's small pieces: If-Match rules, page cursors, and the OpenAPI document's
problems (every refusal documented, as application/problem+json)."""

from __future__ import annotations

from typing import Any

import fakeredis
import pytest
import redis

from shared import redis_keys
from shared.db.database import Database
from shared.errors import ConnectError
from shared.settings import Settings
from shared.status import scheduled
from web.app import create_app
from web.etag import check_if_match, etag_of
from web.paging import decode_cursor, encode_cursor
from web.problems import PROBLEM_JSON, Problem
from web.services import WebServices


def test_if_match_rules() -> None:
    current = etag_of({"name": "a", "port": 993})

    check_if_match(current, current)
    check_if_match(f'"other", {current}', current)
    check_if_match(f"W/{current}", current)
    check_if_match("*", current)
    check_if_match(None, current, required=False)
    with pytest.raises(Problem) as missing:
        check_if_match(None, current)
    with pytest.raises(Problem) as stale:
        check_if_match(etag_of({"name": "a", "port": 143}), current)
    assert (missing.value.status, stale.value.status) == (428, 412)


@pytest.mark.parametrize("name", ["support", "ü-box", "a@b_c-d", "x" * 100])
def test_a_cursor_gives_back_the_name(name: str) -> None:
    assert decode_cursor(encode_cursor(name)) == name


@pytest.mark.parametrize("cursor", ["!!", "AA", "_w", "%00"])
def test_a_cursor_not_made_here_is_refused_on_the_cursor_field(cursor: str) -> None:
    with pytest.raises(Problem) as refused:
        decode_cursor(cursor)
    assert refused.value.field == "cursor"
    assert refused.value.status == 422


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    database = Database("sqlite://")
    try:
        app = create_app(WebServices(settings=Settings(), database=database, secrets=_no_key))
        return app.openapi()
    finally:
        database.dispose()


def _no_key() -> Any:
    raise AssertionError("building the document needs no key")


def test_every_refusal_is_documented_as_a_problem(document: dict[str, Any]) -> None:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            where = f"{method.upper()} {path}"
            if operation.get("security"):
                assert {"401", "403"} <= set(responses), where
            if "requestBody" in operation:
                assert {"400", "413", "422"} <= set(responses), where
            for status, response in responses.items():
                if int(status) >= 400 and path != "/readyz":
                    assert PROBLEM_JSON in response["content"], (where, status)
                    assert "application/json" not in response["content"], (where, status)
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_a_status_page_reads_only_its_accounts_next_polls() -> None:
    client = fakeredis.FakeRedis()
    client.zadd(redis_keys.schedule(), {"1": 100.0, "2": 200.0, "3": 300.0})

    assert scheduled(client)([1, 3, 4]) == {1: 100.0, 3: 300.0}
    broken = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5, retry=None)
    with pytest.raises(ConnectError, match=r"^redis: cannot read the schedule"):
        scheduled(broken)([1])
    broken.close()


def test_a_token_refresh_does_not_change_the_etag_an_edit_does() -> None:
    read = {"name": "a", "port": 993, "oauth_status": "ok", "token_expires_at": "10:00"}
    refreshed = {**read, "oauth_status": "refreshed", "token_expires_at": "11:00"}
    assert etag_of(refreshed) == etag_of(read)
    assert etag_of({**read, "port": 995}) != etag_of(read)
