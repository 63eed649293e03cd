"""Browser sessions and the protections around them on a real server: cookie flags, sign-in
throttling shared by replicas, sessions ended by a new password or a removed user, security
headers on every answer, the body size limit, and bounded metrics."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.web.conftest import VIEWER_PASSWORD, Api
from tests.support.redis_server import RedisServer
from tests.support.web_server import mailpoll, running_web

pytestmark = pytest.mark.integration


def sign_in(client: httpx.Client, name: str, password: str) -> httpx.Response:
    return client.post("/api/session", json={"name": name, "password": password})


def test_the_session_cookie_is_httponly_lax_and_secure_behind_https(api: Api) -> None:
    plain = sign_in(api.client(), "victor", VIEWER_PASSWORD).headers["set-cookie"]
    proxied = api.client()
    proxied.headers["X-Forwarded-Proto"] = "https"
    secure = sign_in(proxied, "victor", VIEWER_PASSWORD).headers["set-cookie"]

    flags = {part.strip().lower() for part in plain.split(";")[1:]}
    assert {"httponly", "samesite=lax", "path=/"} <= flags
    assert "secure" not in flags
    assert "secure" in {part.strip().lower() for part in secure.split(";")[1:]}


def test_who_am_i_gives_the_csrf_token_to_the_browser_only(api: Api) -> None:
    browser = api.signed_in("victor", VIEWER_PASSWORD)

    assert browser.get("/api/session").json()["via"] == "session"
    assert browser.get("/api/session").json()["csrf_token"]
    assert api.viewer().get("/api/session").json() == {
        "name": "token:svc-viewer", "role": "viewer", "via": "token", "csrf_token": None,
    }  # fmt: skip


def test_sign_in_is_throttled_per_user_across_replicas(
    api: Api, tmp_path: Path, redis_server: RedisServer
) -> None:
    other_env = api.web.env
    with running_web(tmp_path, other_env["MAILPOLL_DATABASE_URL"], redis_server.url) as replica:
        first, second = api.client(), httpx.Client(base_url=replica.url, timeout=30)
        try:
            wrong = [sign_in(first, "tess", "wrong password!").status_code for _ in range(5)]
            throttled = sign_in(second, "tess", "wrong password!")
        finally:
            second.close()

    assert wrong == [401] * 5
    assert throttled.status_code == 429
    assert 0 < int(throttled.headers["Retry-After"]) <= 900
    assert throttled.json()["detail"].startswith("too many failed sign-ins: try again in")
    assert sign_in(first, "victor", VIEWER_PASSWORD).status_code == 200  # other users sign in


def test_behind_a_trusted_proxy_sign_in_is_throttled_per_client_address(
    api: Api, tmp_path: Path, redis_server: RedisServer
) -> None:
    database = api.web.env["MAILPOLL_DATABASE_URL"]
    trusting = running_web(tmp_path, database, redis_server.url, web_trusted_proxies="127.0.0.1")
    with trusting as web, httpx.Client(base_url=web.url, timeout=30) as proxy:

        def attempt(client: str, name: str, password: str) -> httpx.Response:
            forwarded = {"X-Forwarded-For": client}
            body = {"name": name, "password": password}
            return proxy.post("/api/session", json=body, headers=forwarded)

        wrong = [attempt("10.9.0.1", f"guess{n}", "wrong!").status_code for n in range(20)]
        blocked = attempt("10.9.0.1", "victor", VIEWER_PASSWORD)
        elsewhere = attempt("10.9.0.2", "victor", VIEWER_PASSWORD)

    assert wrong == [401] * 20
    assert blocked.status_code == 429
    assert elsewhere.status_code == 200  # the proxy's own address is not what is counted


def test_a_wrong_name_and_a_wrong_password_get_the_same_answer(api: Api) -> None:
    client = api.client()

    unknown = sign_in(client, "nobody-here", "whatever password")
    wrong = sign_in(client, "alice", "not her password")

    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()


def test_a_new_password_or_a_removed_user_ends_the_sessions(api: Api) -> None:
    env = api.web.env
    added = mailpoll(env, "admins", "add", "rita", "--role", "viewer", "--password-stdin",
                     stdin="rita-Pa55word-1\n")  # fmt: skip
    assert added.returncode == 0, added.stderr
    browser = api.signed_in("rita", "rita-Pa55word-1")

    changed = mailpoll(
        env, "admins", "passwd", "rita", "--password-stdin", stdin="rita-Pa55word-2\n"
    )
    assert changed.returncode == 0, changed.stderr
    assert browser.get("/api/session").status_code == 401
    browser = api.signed_in("rita", "rita-Pa55word-2")

    assert mailpoll(env, "admins", "remove", "rita").returncode == 0
    assert browser.get("/api/session").status_code == 401


def test_every_answer_carries_the_security_headers(api: Api) -> None:
    client = api.admin()
    answers = [
        client.get("/healthz"),
        client.get("/metrics"),
        client.get("/api/accounts"),
        client.get("/api/accounts/nobody"),
        client.get("/no/such/path"),
        api.client().get("/api/accounts"),
        client.post("/api/accounts", json={}),
        client.get("/api/docs"),
    ]
    for answer in answers:
        headers = answer.headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"], answer.url
        assert headers["content-security-policy"].startswith("default-src 'self'")
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        if answer.url.path.startswith("/api/"):
            assert headers["cache-control"] == "no-store", answer.url


def test_a_body_over_the_limit_is_refused_with_413(api: Api) -> None:
    client = api.admin()
    declared = client.post(
        "/api/account-import",
        content=b" " * (17 * 2**20),
        headers={"content-type": "application/json"},
    )

    def chunks() -> Iterator[bytes]:
        for _ in range(17):
            yield b" " * 2**20

    streamed = client.post("/api/account-import", content=chunks())

    for answer in (declared, streamed):
        assert answer.status_code == 413
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["detail"] == "the request body is larger than 16 MiB"


def test_metrics_count_requests_by_route_template_never_by_name(api: Api) -> None:
    client = api.admin()
    client.get("/api/accounts/someone-private")
    client.get("/some/unknown/path-private")

    text = httpx.get(f"{api.url}/metrics").text

    assert (
        'mailpoll_http_requests_total{method="GET",route="/api/accounts/{name}",status="404"}'
        in text
    )
    assert 'route="(unmatched)"' in text
    assert "private" not in text
    assert "mailpoll_http_request_duration_seconds_bucket" in text
