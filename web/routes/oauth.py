"""OAuth2 consent in the browser: the provider's authorize URL for an account, and the callback.

The console's Authenticate asks `POST /api/accounts/{name}/oauth/authorize` for the URL and
sends the browser there; the provider sends it back to `GET /oauth/callback` with a code and
the `state`, which authenticates the callback (it is encrypted with the app's key, names the
account, and runs out): no session is needed there.
"""

from __future__ import annotations

import html
import logging
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel

from shared import oauth_consent
from shared.accounts.service import AccountService
from shared.errors import MailpollError
from shared.oauth_consent import ConsentError
from web.auth import Admin, services_of
from web.problems import Problem, documented

log = logging.getLogger(__name__)
router = APIRouter(tags=["oauth2"])
CALLBACK = "/oauth/callback"


class AuthorizeUrl(BaseModel):
    """Send the person's browser here; the provider sends it back to /oauth/callback."""

    authorize_url: str


class Authenticated(BaseModel):
    """A finished consent: whom the provider issued the token to, its scopes and expiry."""

    account: str
    who: str | None
    scopes: list[str]
    expires_at: str | None


@router.post(
    "/api/accounts/{name}/oauth/authorize",
    summary="The provider's consent page for this oauth2 account (authorization code + PKCE)",
    responses=documented(401, 403, 404, 422),
)
def authorize(name: str, request: Request, principal: Admin) -> AuthorizeUrl:
    services = services_of(request)
    with services.database.session() as session:
        account = AccountService(session, secrets=services.secrets, actor=principal.name).get(name)
    url = oauth_consent.begin(
        account,
        services.secrets(),
        redirect_uri=str(request.url_for("oauth_callback")),
        actor=principal.name,
    )
    return AuthorizeUrl(authorize_url=url)


@router.get(
    CALLBACK,
    name="oauth_callback",
    summary="Where the provider sends the browser back: exchanges the code, stores the token",
    description="Redirects to the account's page in the console; answers JSON when the "
    "request accepts application/json. No sign-in: the `state` authenticates the call.",
    response_model=Authenticated,
    responses={
        303: {"description": "to the account's page"},
        **documented(422),
        # A browser is shown a page saying why; a client that accepts JSON gets the problem.
        **{
            status: {**doc, "content": {"text/html": {"schema": {"type": "string"}}}}
            for status, doc in documented(400, 503).items()
        },
    },
)
def callback(
    request: Request,
    state: Annotated[str, Query(max_length=4096)],
    code: Annotated[str | None, Query(max_length=4096)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
    error_description: Annotated[str | None, Query(max_length=1000)] = None,
) -> Response:
    services = services_of(request)
    wants_json = "application/json" in request.headers.get("accept", "")
    try:
        granted = oauth_consent.finish(
            services.database, services.secrets(), state=state, code=code, error=error,
            error_description=error_description,
        )  # fmt: skip
    except MailpollError as failed:
        status = 400 if isinstance(failed, ConsentError) else 503
        account = failed.account if isinstance(failed, ConsentError) else None
        log.warning("oauth2 consent%s failed: %s", f" of {account}" if account else "", failed)
        if wants_json:
            raise Problem(status, str(failed)) from None
        return _failure_page(status, str(failed), account)
    if wants_json:
        shown = granted.instance.describe()
        return Response(
            Authenticated(account=granted.account, **shown).model_dump_json(),
            media_type="application/json",
        )
    return RedirectResponse(f"/accounts/{quote(granted.account)}", status_code=303)


def _failure_page(status: int, reason: str, account: str | None) -> HTMLResponse:
    """What the person sees in the browser when the consent did not work."""
    back = ""
    if account is not None:
        link = html.escape(f"/accounts/{quote(account)}")
        back = f'<p><a href="{link}">Back to {html.escape(account)}</a></p>'
    page = (
        "<!doctype html><html lang=en><meta charset=utf-8><title>Not authenticated</title>"
        f"<h1>The account was not authenticated</h1><p>{html.escape(reason)}</p>{back}</html>"
    )
    return HTMLResponse(page, status_code=status)
