"""OAuth2 consent through the real web app: authorize URL, the provider's redirect, the
callback's code exchange with PKCE, and every way a callback is refused."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from shared.secrets import SecretBox
from tests.support.dovecot import DovecotServer
from tests.support.oauth_server import OAuthServer
from tests.support.web_server import WebServer, mailpoll, running_web

pytestmark = pytest.mark.integration


@pytest.fixture
def web(tmp_path: Path, postgres_url: str, redis_url: str) -> Iterator[WebServer]:
    with running_web(tmp_path, postgres_url, redis_url) as server:
        yield server


@pytest.fixture
def admin(web: WebServer) -> Iterator[httpx.Client]:
    with web.client(web.token("admin")) as client:
        yield client


def add_oauth_account(web: WebServer, dovecot: DovecotServer, user: str, config: Any) -> None:
    added = mailpoll(
        web.env, "accounts", "add", "o", "--type", "inbound", "--host", "127.0.0.1",
        "--encryption", "none", "--port", str(dovecot.imap_port), "--auth-type", "oauth2",
        "--login", user, "--client-token-config", json.dumps(config),
    )  # fmt: skip
    assert added.returncode == 0, added.stderr


def authorize_url(admin: httpx.Client) -> str:
    answer = admin.post("/api/accounts/o/oauth/authorize")
    assert answer.status_code == 200, answer.text
    url: str = answer.json()["authorize_url"]
    return url


def consent_in_browser(url: str) -> str:
    """What the browser does at the provider: the callback URL it is sent back to."""
    answer = httpx.get(url, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def show(web: WebServer) -> dict[str, Any]:
    shown = mailpoll(web.env, "accounts", "show", "o", "--json")
    assert shown.returncode == 0, shown.stderr
    view: dict[str, Any] = json.loads(shown.stdout)
    return view


def test_the_code_and_pkce_round_trip_stores_a_token_that_logs_in(
    web: WebServer, admin: httpx.Client, provider: OAuthServer, oauth_dovecot: DovecotServer
) -> None:
    user = oauth_dovecot.new_user()
    add_oauth_account(web, oauth_dovecot, user, provider.config())
    provider.consent, provider.consent_user = "approve", user

    url = authorize_url(admin)
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(provider.authorize_url + "?")
    assert query["redirect_uri"] == [f"{web.url}/oauth/callback"]
    assert query["code_challenge_method"] == ["S256"]
    assert query["scope"] == ["mail openid"]
    assert query["client_id"] == [provider.client_id]
    callback = consent_in_browser(url)
    back = httpx.get(callback, follow_redirects=False)  # no credentials: the state is enough

    assert back.status_code == 303
    assert back.headers["Location"] == "/accounts/o"
    view = show(web)
    assert view["token_who"] == f"{user}@example.com"
    assert view["token_scopes"] == "mail openid"
    assert view["oauth_status"].startswith("authenticated; access token valid until")
    history = json.loads(mailpoll(web.env, "accounts", "history", "o", "--json").stdout)
    assert (history[-1]["action"], history[-1]["actor"]) == ("authenticated", "token:admin")
    tested = mailpoll(web.env, "accounts", "test", "o", "--json")
    assert json.loads(tested.stdout)["passed"] is True, tested.stdout  # Dovecot took the token

    again = httpx.get(callback, headers={"Accept": "application/json"})
    assert again.status_code == 400  # a code is good once
    assert again.headers["Content-Type"] == "application/problem+json"
    assert "refused the code: invalid_grant: unknown or used code" in again.json()["detail"]


def test_a_callback_asked_for_json_answers_who_scopes_and_expiry(
    web: WebServer, admin: httpx.Client, provider: OAuthServer, oauth_dovecot: DovecotServer
) -> None:
    add_oauth_account(web, oauth_dovecot, "jo", provider.config())
    provider.consent, provider.consent_user = "approve", "jo"
    callback = consent_in_browser(authorize_url(admin))
    back = httpx.get(callback, headers={"Accept": "application/json"})

    assert back.status_code == 200, back.text
    body = back.json()
    assert body["account"] == "o"
    assert body["who"] == "jo@example.com"
    assert body["scopes"] == ["mail", "openid"]
    assert body["expires_at"].endswith("Z")
    assert set(body) == {"account", "who", "scopes", "expires_at"}


def test_a_refused_consent_is_shown_and_stores_nothing(
    web: WebServer, admin: httpx.Client, provider: OAuthServer, oauth_dovecot: DovecotServer
) -> None:
    add_oauth_account(web, oauth_dovecot, "jo", provider.config())
    provider.consent = "deny"
    try:
        callback = consent_in_browser(authorize_url(admin))
    finally:
        provider.consent = "approve"
    assert parse_qs(urlsplit(callback).query)["error"] == ["access_denied"]
    page = httpx.get(callback)

    assert page.status_code == 400
    assert page.headers["Content-Type"].startswith("text/html")
    assert "consent was refused at the provider (access_denied: the user said no)" in page.text
    assert 'href="/accounts/o"' in page.text
    assert show(web)["client_token_instance"] == "(none)"


def test_tampered_expired_or_foreign_states_are_refused(
    web: WebServer, admin: httpx.Client, provider: OAuthServer, oauth_dovecot: DovecotServer
) -> None:
    add_oauth_account(web, oauth_dovecot, "jo", provider.config())
    provider.consent_user = "jo"
    callback = consent_in_browser(authorize_url(admin))
    query = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
    box = SecretBox(web.env["MAILPOLL_SECRET_KEY"])
    consent = json.loads(box.decrypt(query["state"], what="state"))

    def refused(state: str) -> str:
        answer = httpx.get(
            f"{web.url}/oauth/callback", params={**query, "state": state},
            headers={"Accept": "application/json"},
        )  # fmt: skip
        assert answer.status_code == 400, answer.text
        detail: str = answer.json()["detail"]
        return detail

    tampered = query["state"][:-6] + ("AAAAAA" if query["state"][-6:] != "AAAAAA" else "BBBBBB")
    assert refused(tampered) == "the consent's state is not one this app made: start again"
    other_purpose = box.encrypt(json.dumps({**consent, "for": "something else"}))
    assert refused(other_purpose) == "the consent's state is not one this app made: start again"
    expired = box.encrypt(json.dumps({**consent, "at": time.time() - 601}))
    assert refused(expired) == "the consent took longer than 10 minutes: start again"
    wrong_verifier = box.encrypt(json.dumps({**consent, "verifier": "x" * 64}))
    assert refused(wrong_verifier).endswith("invalid_grant: PKCE verification failed")
    assert provider.refused[-1] == "PKCE verification failed"
    assert show(web)["client_token_instance"] == "(none)"

    changed = mailpoll(web.env, "accounts", "update", "o", "--client-token-config",
                       json.dumps(provider.config(scopes="other")))  # fmt: skip
    assert changed.returncode == 0, changed.stderr
    assert refused(query["state"]) == (
        "the account's OAuth2 settings changed while its consent was given: start again"
    )


def test_only_an_admin_may_start_a_consent(
    web: WebServer, provider: OAuthServer, oauth_dovecot: DovecotServer
) -> None:
    add_oauth_account(web, oauth_dovecot, "jo", provider.config())
    with web.client(web.token("reader", "viewer")) as viewer:
        assert viewer.post("/api/accounts/o/oauth/authorize").status_code == 403
    assert httpx.post(f"{web.url}/api/accounts/o/oauth/authorize").status_code == 401
    with web.client(web.token("admin")) as admin:
        local = mailpoll(web.env, "accounts", "add", "plain", "--type", "inbound", "--host",
                         "127.0.0.1", "--login", "jo")  # fmt: skip
        assert local.returncode == 0, local.stderr
        answer = admin.post("/api/accounts/plain/oauth/authorize")
        assert answer.status_code == 422
        assert answer.json()["detail"] == "auth_type: plain uses local, not oauth2"
        assert admin.post("/api/accounts/nobody/oauth/authorize").status_code == 404
