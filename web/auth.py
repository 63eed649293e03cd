"""Who is calling: a bearer token or a browser session, its role, and CSRF for cookie requests.

Every route but health, metrics, the OpenAPI document, sign-in and the OAuth2 callback depends
on `require_viewer` (reads) or `require_admin` (writes). A request authenticated by the
session cookie with an unsafe method must echo the session's CSRF token (header
`X-CSRF-Token`, or form field `csrf_token`); bearer tokens are not sent by browsers on their
own, so they need none.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Literal

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from shared.settings import Settings
from shared.tokens import ApiTokens
from shared.web_sessions import Lifetime, WebSessions
from web.problems import Problem
from web.services import WebServices

SESSION_COOKIE = "mailpoll_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
Role = Literal["admin", "viewer"]
Via = Literal["session", "token"]

_bearer = HTTPBearer(
    auto_error=False,
    description="An API token from `mailpoll tokens create NAME --role admin|viewer`.",
)
_cookie = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    description="The browser session set by POST /api/session; unsafe methods also need "
    f"the {CSRF_HEADER} header that GET /api/session returns.",
)


@dataclass(frozen=True)
class Principal:
    """The caller: an admin user signed in with a session, or a service's API token.

    `name` is what the audit history records: the user's name, or `token:NAME`.
    """

    name: str
    role: Role
    via: Via
    csrf_token: str | None = None  # sessions only


def lifetime(settings: Settings) -> Lifetime:
    return Lifetime(
        idle=timedelta(minutes=settings.web_session_idle_minutes),
        absolute=timedelta(hours=settings.web_session_hours),
    )


def services_of(request: Request) -> WebServices:
    services: WebServices = request.app.state.services
    return services


async def require_viewer(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    session_id: Annotated[str | None, Security(_cookie)],
) -> Principal:
    """Anyone signed in or holding a token; 401 otherwise."""
    services = services_of(request)
    token = bearer.credentials if bearer is not None else None
    principal = await run_in_threadpool(_identify, services, token, session_id)
    if principal.via == "session" and request.method not in SAFE_METHODS:
        await _check_csrf(request, principal)
    request.state.principal = principal
    return principal


async def require_admin(principal: Annotated[Principal, Depends(require_viewer)]) -> Principal:
    """Someone with the admin role; a viewer gets 403."""
    if principal.role != "admin":
        raise Problem(403, f"{principal.name} has the viewer role: this needs the admin role")
    return principal


Viewer = Annotated[Principal, Depends(require_viewer)]
Admin = Annotated[Principal, Depends(require_admin)]


def _identify(services: WebServices, token: str | None, session_id: str | None) -> Principal:
    with services.database.session() as session:
        if token is not None:
            found = ApiTokens(session, actor="web").authenticate(token)
            if found is None:
                raise Problem(
                    401,
                    "the bearer token is not valid: revoked, or never issued",
                    headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
                )
            return Principal(f"token:{found.name}", role_of(found.role), "token")
        if session_id is not None:
            signed_in = WebSessions(session, lifetime(services.settings)).find(session_id)
            if signed_in is None:
                raise Problem(
                    401,
                    "the session has ended: sign in again",
                    headers={
                        "WWW-Authenticate": "Bearer",
                        "Set-Cookie": f"{SESSION_COOKIE}=; Max-Age=0; Path=/; HttpOnly; "
                        "SameSite=Lax",
                    },
                )
            return Principal(
                signed_in.name, role_of(signed_in.role), "session", signed_in.csrf_token
            )
    raise Problem(
        401,
        "sign in (POST /api/session) or send an API token (Authorization: Bearer TOKEN)",
        headers={"WWW-Authenticate": "Bearer"},
    )


async def _check_csrf(request: Request, principal: Principal) -> None:
    given = request.headers.get(CSRF_HEADER)
    content_type = request.headers.get("content-type", "")
    if given is None and content_type.startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    expected = principal.csrf_token or ""
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Problem(
            403,
            f"missing or wrong CSRF token: send the {CSRF_HEADER} header "
            "that GET /api/session returns",
        )


def role_of(role: str) -> Role:
    """A stored role as the type the API declares (anything but admin reads only)."""
    return "admin" if role == "admin" else "viewer"
