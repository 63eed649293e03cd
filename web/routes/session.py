"""Sign-in, who-am-I and sign-out for browsers: `POST`, `GET` and `DELETE /api/session`.

The session id travels in an HttpOnly cookie (SameSite=Lax: the OAuth2 callback is a
top-level GET back from the provider; Secure over https). Failed sign-ins are throttled per
user and per client address, in the database.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from shared.admins import AdminUsers
from shared.login_throttle import Limits, LoginThrottle
from shared.web_sessions import SignedIn, WebSessions
from web.auth import (
    SESSION_COOKIE,
    Principal,
    Role,
    Via,
    Viewer,
    lifetime,
    role_of,
    services_of,
)
from web.problems import Problem, documented

router = APIRouter(prefix="/api/session", tags=["session"], responses=documented(401, 413, 422))
LIMITS = Limits()


class SignIn(BaseModel):
    name: Annotated[str, Field(max_length=200)]
    password: Annotated[str, Field(max_length=1024)]


class SessionInfo(BaseModel):
    """Who is calling; `csrf_token` is what unsafe requests of this session must send in the
    X-CSRF-Token header (null for API tokens, which need none)."""

    name: str
    role: Role
    via: Via
    csrf_token: str | None


@router.post(
    "",
    summary="Sign in: sets the session cookie",
    responses=documented(429),
)
def sign_in(body: SignIn, request: Request, response: Response) -> SessionInfo:
    services = services_of(request)
    address = request.client.host if request.client else "unknown"
    with services.database.session() as session:
        throttle = LoginThrottle(session, LIMITS)
        wait = throttle.retry_after(body.name, address)
        signed_in: tuple[str, SignedIn] | None = None
        if wait is None:
            user = AdminUsers(session, actor=body.name).verify(body.name, body.password)
            if user is None:
                throttle.failed(body.name, address)
            else:
                throttle.succeeded(body.name)
                signed_in = WebSessions(session, lifetime(services.settings)).start(user)
    if wait is not None:
        raise Problem(
            429,
            f"too many failed sign-ins: try again in {wait} seconds",
            headers={"Retry-After": str(wait)},
        )
    if signed_in is None:
        raise Problem(401, "wrong name or password")
    clear, who = signed_in
    response.set_cookie(
        SESSION_COOKIE,
        clear,
        max_age=services.settings.web_session_hours * 3600,
        path="/",
        httponly=True,
        samesite="lax",
        secure=_https(request),
    )
    return SessionInfo(
        name=who.name, role=role_of(who.role), via="session", csrf_token=who.csrf_token
    )


@router.get("", summary="Who am I (and the CSRF token of a browser session)")
def who_am_i(principal: Viewer) -> SessionInfo:
    return _info(principal)


@router.delete("", status_code=204, summary="Sign out: ends the browser session")
def sign_out(principal: Viewer, request: Request) -> Response:
    session_id = request.cookies.get(SESSION_COOKIE)
    if principal.via == "session" and session_id:
        with services_of(request).database.session() as session:
            WebSessions(session, lifetime(services_of(request).settings)).end(session_id)
    response = Response(status_code=204)
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=_https(request)
    )
    return response


def _info(principal: Principal) -> SessionInfo:
    return SessionInfo(
        name=principal.name, role=principal.role, via=principal.via,
        csrf_token=principal.csrf_token,
    )  # fmt: skip


def _https(request: Request) -> bool:
    """Served over https, directly or behind a proxy that says so (the cookie is then Secure;
    a wrong claim only keeps the cookie off plain http)."""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"
