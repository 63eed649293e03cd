"""Secrets are write-only: no password, client secret, API token or session cookie in any
answer of the API, nor in the server's log (at DEBUG), whatever route is asked."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from tests.integration.web.conftest import ADMIN_PASSWORD, Api

pytestmark = pytest.mark.integration
ACCOUNT_PASSWORD = "Acct-Secret-7Zq!"
CLIENT_SECRET = "Client-Secret-4Wx"
WRONG_PASSWORD = "Wrong-Guess-2Kv"
TOKEN_CONFIG = {"client_id": "mailpoll", "client_secret": CLIENT_SECRET,
                "token_url": "https://login.example.com/token"}  # fmt: skip


def test_no_secret_in_any_answer_or_in_the_log(api: Api) -> None:
    browser = api.signed_in("alice", ADMIN_PASSWORD)
    cookie = browser.cookies["mailpoll_session"]
    secrets = [ACCOUNT_PASSWORD, CLIENT_SECRET, ADMIN_PASSWORD, WRONG_PASSWORD, cookie,
               api.admin_token, api.viewer_token]  # fmt: skip
    answers: list[httpx.Response] = []
    ask = _recorder(answers)

    ask(browser.post("/api/accounts", json={
        "name": "secretive", "type": "inbound", "host": "imap.example.com", "login": "u",
        "password": ACCOUNT_PASSWORD}))  # fmt: skip
    ask(browser.post("/api/accounts", json={
        "name": "oauthy", "type": "inbound", "host": "imap.example.com", "auth_type": "oauth2",
        "login": "u", "client_token_config": json.dumps(TOKEN_CONFIG)}))  # fmt: skip
    tag = ask(browser.get("/api/accounts/secretive")).headers["ETag"]
    ask(browser.patch("/api/accounts/secretive", headers={"If-Match": tag},
                      json={"password": ACCOUNT_PASSWORD + "2", "max_batch": 0}))  # fmt: skip
    tag = ask(browser.get("/api/accounts/secretive")).headers["ETag"]
    ask(browser.patch("/api/accounts/secretive", headers={"If-Match": tag},
                      json={"password": "x" + ACCOUNT_PASSWORD}))  # fmt: skip
    for path in ("/api/accounts", "/api/accounts/oauthy", "/api/accounts/secretive/history",
                 "/api/accounts/oauthy/history", "/api/account-export", "/api/status",
                 "/api/settings", "/api/session", "/api/dead-letters"):  # fmt: skip
        ask(browser.get(path))
        ask(api.viewer().get(path))
    ask(browser.get("/api/account-export", params={"with_secrets": True}))
    document = {"version": 1, "accounts": [
        {"name": "imported", "type": "inbound", "host": "h", "login": "u",
         "password": ACCOUNT_PASSWORD},
        {"name": "refused", "type": "inbound", "host": "h", "login": "u",
         "password": ACCOUNT_PASSWORD, "max_batch": -1}]}  # fmt: skip
    ask(browser.post("/api/account-import", params={"dry_run": True}, json=document))
    ask(api.client().post("/api/session", json={"name": "alice", "password": WRONG_PASSWORD}))
    ask(api.client().post("/api/session", json={"name": WRONG_PASSWORD, "password": 5}))
    ask(api.client("mpt_" + WRONG_PASSWORD).get("/api/accounts"))
    ask(browser.get("/metrics"))

    leaks = [
        f"{answer.request.method} {answer.request.url.path}: {secret[:6]}..."
        for answer in answers
        for secret in secrets
        if secret in answer.text or secret in _headers_but_set_cookie(answer)
    ]
    log = api.web.process.log()
    assert "secretive" in log or "/api/accounts" in log  # the log is being written
    assert leaks == []
    assert [secret[:6] for secret in secrets if secret in log] == []


def _recorder(answers: list[httpx.Response]) -> Callable[[httpx.Response], httpx.Response]:
    def ask(answer: httpx.Response) -> httpx.Response:
        assert answer.status_code < 500, answer.text
        answers.append(answer)
        return answer

    return ask


def _headers_but_set_cookie(answer: httpx.Response) -> str:
    """The headers except the sign-in's own Set-Cookie, which must carry the session id."""
    return "\n".join(f"{k}: {v}" for k, v in answer.headers.items() if k != "set-cookie")
