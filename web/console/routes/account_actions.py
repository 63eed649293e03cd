"""The account toolbar's actions beside Save: Enable/Disable, Delete, Authenticate (OAuth2)
and Send test mail, each through the service or route the API uses for it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from shared import oauth_consent
from shared.errors import ConfigError, MailpollError, NotFoundError
from web.console.account_view import load
from web.console.guard import AdminPage, PageRefused
from web.console.pages import go, render
from web.problems import Problem
from web.routes import mail
from web.routes.accounts import accounts

router = APIRouter(include_in_schema=False)


@router.post("/accounts/{name}/enable")
def enable(request: Request, principal: AdminPage, name: str) -> Response:
    return _switch(request, principal, name, True)


@router.post("/accounts/{name}/disable")
def disable(request: Request, principal: AdminPage, name: str) -> Response:
    return _switch(request, principal, name, False)


@router.get("/accounts/{name}/delete")
def confirm_delete(request: Request, principal: AdminPage, name: str) -> Response:
    saved = load(request, principal, name)
    return render(request, "account_delete.html", principal, section="accounts", name=name,
                  view=saved.view)  # fmt: skip


@router.post("/accounts/{name}/delete")
def delete(request: Request, principal: AdminPage, name: str) -> Response:
    try:
        with accounts(request, principal) as (_, service):
            service.remove(name)
    except NotFoundError as missing:
        raise PageRefused(404, str(missing)) from None
    return go("/accounts", ("ok", f"Deleted {name}. Its stored messages stay where they are."))


@router.post("/accounts/{name}/authenticate")
def authenticate(request: Request, principal: AdminPage, name: str) -> Response:
    """Without JavaScript: a link to the provider's consent page (a form may not be
    redirected to another site under this site's content security policy)."""
    with accounts(request, principal) as (_, service):
        try:
            account = service.get(name)
        except NotFoundError as missing:
            raise PageRefused(404, str(missing)) from None
    services = request.app.state.services
    try:
        url = oauth_consent.begin(
            account, services.secrets(), redirect_uri=str(request.url_for("oauth_callback")),
            actor=principal.name,
        )  # fmt: skip
    except MailpollError as refused:
        return go(f"/accounts/{name}", ("error", f"Cannot authenticate {name}: {refused}"))
    return render(request, "account_consent.html", principal, section="accounts", name=name,
                  url=url)  # fmt: skip


@router.post("/accounts/{name}/test-mail")
def test_mail(request: Request, principal: AdminPage, name: str) -> Response:
    try:
        sent = mail.send_test_mail(name, request, principal)
    except (ConfigError, Problem, MailpollError) as refused:
        reason = refused.detail if isinstance(refused, Problem) else str(refused)
        return go(f"/accounts/{name}", ("error", f"The test mail was not sent: {reason}"))
    refused_to = ", ".join(f"{to} ({code} {words})" for to, (code, words) in sent.refused.items())
    if refused_to:
        return go(f"/accounts/{name}", ("error", f"The server refused {refused_to}."))
    return go(f"/accounts/{name}", ("ok", f"Test mail sent to {', '.join(sent.to)} "
                                          f"(Message-ID {sent.message_id})."))  # fmt: skip


def _switch(request: Request, principal: AdminPage, name: str, enabled: bool) -> RedirectResponse:
    try:
        with accounts(request, principal) as (_, service):
            outcome = service.set_enabled(name, enabled)
    except NotFoundError as missing:
        raise PageRefused(404, str(missing)) from None
    except ConfigError as refused:
        return go(f"/accounts/{name}", ("error", f"{name} was not enabled: {refused.message}"))
    if outcome.action == "unchanged":
        state = "enabled" if enabled else "disabled"
        return go(f"/accounts/{name}", ("note", f"{name} was {state} already."))
    return go(f"/accounts/{name}", ("ok", f"{name} is {outcome.action}."))
