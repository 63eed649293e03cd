"""Who may call what: every route of the app, by anonymous callers, a revoked or made-up token,
viewers and admins (token and browser session), and CSRF for cookie-authenticated writes.

The route list is read from the app as `mailpoll web` builds it, and each route's role from
its dependencies: a new route without `require_viewer` or `require_admin` (or, for a console
page, the console's guards over them) fails the first test unless it is on the short public
list. API routes answer refusals as problems; console pages send an anonymous browser to the
sign-in page and show a viewer an error page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from mailpoll.app import App
from mailpoll.webserver import web_services
from shared.settings import Settings
from tests.integration.web.conftest import ADMIN_PASSWORD, VIEWER_PASSWORD, Api
from web.app import create_app
from web.auth import SAFE_METHODS, require_admin, require_viewer
from web.console.guard import admin_page, viewer_page

pytestmark = pytest.mark.integration
# Routes anyone may call: health, metrics, the API's description, sign-in (API and console),
# and the OAuth2 callback (its `state` authenticates it).
PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/api/openapi.json"),
    ("GET", "/api/docs"),
    ("POST", "/api/session"),
    ("GET", "/oauth/callback"),
    ("GET", "/"),  # the console's front door: a redirect to its account list
    ("GET", "/signin"),
    ("POST", "/signin"),
}
PATH_VALUES = {"name": "no-such-account", "key": "no_such_key"}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    role: str  # admin, viewer, admin page, viewer page or public

    @property
    def url(self) -> str:
        return re.sub(r"\{(\w+)[^}]*\}", lambda m: PATH_VALUES.get(m[1], "x"), self.path)

    def call(self, client: httpx.Client) -> httpx.Response:
        body = None if self.method in SAFE_METHODS or self.method == "DELETE" else {}
        return client.request(self.method, self.url, json=body)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _dependencies(dependant: Dependant) -> Iterator[object]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _dependencies(dependency)


def role_of(route: RouteContext) -> str:
    if not isinstance(route.original_route, APIRoute):
        return "public"  # the OpenAPI document and its documentation page
    calls = set(_dependencies(route.dependant))
    for guard, role in ((require_admin, "admin"), (require_viewer, "viewer"),
                        (admin_page, "admin page"), (viewer_page, "viewer page")):  # fmt: skip
        if guard in calls:
            return role
    return "public"


def endpoints(app: FastAPI) -> list[Endpoint]:
    """Every method of every route, included routers' routes with their full paths."""
    found = []
    for route in iter_route_contexts(app.routes):
        assert route.path is not None, route
        found.extend(Endpoint(m, route.path, role_of(route)) for m in sorted(route.methods or ()))
    return [e for e in found if e.method != "HEAD"]


@pytest.fixture(scope="module")
def app(api: Api) -> Iterator[FastAPI]:
    """The app exactly as `mailpoll web` builds it, for its list of routes."""
    env = api.web.env
    settings = Settings(
        database_url=env["MAILPOLL_DATABASE_URL"],
        redis_url=env["MAILPOLL_REDIS_URL"],
        secret_key=env["MAILPOLL_SECRET_KEY"],
        data_dir=env["MAILPOLL_DATA_DIR"],
    )
    built = App(settings)
    try:
        yield create_app(web_services(built))
    finally:
        built.database.dispose()


@pytest.fixture(scope="module")
def protected(app: FastAPI) -> list[Endpoint]:
    """The API's routes that need a role (console pages are checked apart)."""
    return [e for e in endpoints(app) if e.role in ("admin", "viewer")]


@pytest.fixture(scope="module")
def pages(app: FastAPI) -> list[Endpoint]:
    return [e for e in endpoints(app) if e.role.endswith(" page")]


def test_every_route_needs_a_role_except_the_public_few(app: FastAPI) -> None:
    public = {(e.method, e.path) for e in endpoints(app) if e.role == "public"}

    assert public <= PUBLIC, f"routes without require_viewer/require_admin: {public - PUBLIC}"
    assert len([e for e in endpoints(app) if e.role != "public"]) >= 20


def refusals(endpoints: list[Endpoint], client: httpx.Client, expected: set[int]) -> list[str]:
    wrong = []
    for endpoint in endpoints:
        answer = endpoint.call(client)
        if answer.status_code not in expected:
            wrong.append(f"{endpoint}: {answer.status_code} {answer.text[:120]}")
        elif answer.headers["content-type"] != "application/problem+json":
            wrong.append(f"{endpoint}: {answer.headers['content-type']}")
    return wrong


def acceptances(endpoints: list[Endpoint], client: httpx.Client) -> list[str]:
    """Calls that got past authentication: anything but 401, 403 and a server error."""
    wrong = []
    for endpoint in endpoints:
        answer = endpoint.call(client)
        if answer.status_code in (401, 403) or answer.status_code >= 500:
            wrong.append(f"{endpoint}: {answer.status_code} {answer.text[:160]}")
    return wrong


@pytest.mark.parametrize("caller", ["anonymous", "revoked token", "made-up token", "bad scheme"])
def test_callers_without_valid_credentials_get_401_everywhere(
    api: Api, protected: list[Endpoint], caller: str
) -> None:
    client = {
        "anonymous": api.client(),
        "revoked token": api.client(api.revoked_token),
        "made-up token": api.client("mpt_" + "x" * 43),
        "bad scheme": api.client(),
    }[caller]
    if caller == "bad scheme":
        client.headers["Authorization"] = f"Basic {api.admin_token}"

    assert refusals(protected, client, {401}) == []


def test_a_viewer_token_reads_and_is_refused_every_write(
    api: Api, protected: list[Endpoint]
) -> None:
    viewer = api.viewer()
    writes = [e for e in protected if e.role == "admin"]
    reads = [e for e in protected if e.role == "viewer" and e.method != "DELETE"]

    assert writes
    assert reads
    assert refusals(writes, viewer, {403}) == []
    assert acceptances(reads, viewer) == []


def test_an_admin_token_passes_everywhere(api: Api, protected: list[Endpoint]) -> None:
    assert acceptances(protected, api.admin()) == []


def test_sessions_have_the_roles_of_their_users(api: Api, protected: list[Endpoint]) -> None:
    viewer = api.signed_in("victor", VIEWER_PASSWORD)
    admin = api.signed_in("alice", ADMIN_PASSWORD)
    no_sign_out = [e for e in protected if (e.method, e.path) != ("DELETE", "/api/session")]

    assert refusals([e for e in protected if e.role == "admin"], viewer, {403}) == []
    assert acceptances([e for e in no_sign_out if e.role == "viewer"], viewer) == []
    assert acceptances(no_sign_out, admin) == []


def test_cookie_writes_without_the_csrf_token_are_refused(
    api: Api, protected: list[Endpoint]
) -> None:
    browser = api.signed_in("alice", ADMIN_PASSWORD, csrf=False)
    unsafe = [e for e in protected if e.method not in SAFE_METHODS]
    safe = [e for e in protected if e.method in SAFE_METHODS]

    assert refusals(unsafe, browser, {403}) == []
    browser.headers["X-CSRF-Token"] = "not-the-token"
    assert refusals(unsafe, browser, {403}) == []
    assert acceptances(safe, browser) == []  # reads need no CSRF token
    answer = browser.post("/api/accounts", json={})
    assert "CSRF" in answer.json()["detail"]


def test_a_plain_form_may_carry_the_csrf_token(api: Api) -> None:
    browser = api.signed_in("alice", ADMIN_PASSWORD, csrf=False)
    token = browser.get("/api/session").json()["csrf_token"]

    refused = browser.post("/api/accounts/no-such-account/disable", data={"csrf_token": "x"})
    passed = browser.post("/api/accounts/no-such-account/disable", data={"csrf_token": token})

    assert refused.status_code == 403
    assert passed.status_code == 404  # past the CSRF check, to the missing account


def test_bearer_tokens_need_no_csrf_token(api: Api) -> None:
    answer = api.admin().post("/api/accounts/no-such-account/disable")

    assert answer.status_code == 404


def test_the_signed_out_session_is_refused_at_once(api: Api) -> None:
    browser = api.signed_in("victor", VIEWER_PASSWORD)
    cookie = browser.cookies["mailpoll_session"]

    assert browser.delete("/api/session").status_code == 204
    assert "mailpoll_session" not in browser.cookies  # the browser is told to drop it
    stale = api.client()
    stale.cookies.set("mailpoll_session", cookie)
    replayed = stale.get("/api/session")
    assert replayed.status_code == 401
    assert replayed.json()["detail"] == "the session has ended: sign in again"


def test_a_revoked_token_is_refused_at_the_next_request(api: Api) -> None:
    from tests.support.web_server import mailpoll

    token = api.web.token("short-lived", "viewer")
    client = api.client(token)
    assert client.get("/api/accounts").status_code == 200

    assert mailpoll(api.web.env, "tokens", "revoke", "short-lived").returncode == 0

    answer = client.get("/api/accounts")
    assert answer.status_code == 401
    assert answer.json()["detail"] == "the bearer token is not valid: revoked, or never issued"


def test_a_viewer_may_export_but_not_with_secrets(api: Api) -> None:
    assert api.viewer().get("/api/account-export").status_code == 200
    refused = api.viewer().get("/api/account-export", params={"with_secrets": True})
    assert refused.status_code == 403
    assert api.admin().get("/api/account-export", params={"with_secrets": True}).status_code == 200


def test_console_pages_send_an_anonymous_browser_to_sign_in(
    api: Api, pages: list[Endpoint]
) -> None:
    browser = api.client()
    wrong = []
    for page in pages:
        answer = browser.request(page.method, page.url)
        target = answer.headers.get("location") or answer.headers.get("hx-redirect") or ""
        if answer.status_code not in (303, 204) or not target.startswith("/signin"):
            wrong.append(f"{page}: {answer.status_code} {target}")

    assert pages
    assert wrong == []


def test_console_pages_that_change_things_refuse_a_viewer(api: Api, pages: list[Endpoint]) -> None:
    viewer = api.signed_in("victor", VIEWER_PASSWORD, csrf=False)
    token = viewer.get("/api/session").json()["csrf_token"]
    wrong = []
    for page in [p for p in pages if p.role == "admin page"]:
        form = {"csrf_token": token} if page.method not in SAFE_METHODS else None
        answer = viewer.request(page.method, page.url, data=form)
        if answer.status_code != 403:
            wrong.append(f"{page}: {answer.status_code}")

    assert wrong == []
