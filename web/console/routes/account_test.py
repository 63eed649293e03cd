"""Test Configuration of the values on screen, saved or not, as the API's test runs it.

With JavaScript the steps stream as server-sent events while they finish (the API's stream);
without it the page comes back with every step. A password left blank on a saved account is
the stored one, and a saved OAuth2 account's token is used; nothing is saved either way.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from shared.accounts.trial import unsaved_account
from shared.db.models import Account
from shared.errors import ConfigError
from web.auth import Principal, services_of
from web.console import account_form
from web.console.account_view import Screen, load, on_screen, page
from web.console.guard import AdminPage
from web.console.pages import NO_STORE
from web.console.routes.account_page import Posted
from web.routes import configtest
from web.routes.accounts import accounts

router = APIRouter(include_in_schema=False)
_SECRETS_KEPT = ("client_secret_encrypted", "client_token_instance_encrypted", "oauth_status")


@router.post("/account-test")
def test_configuration(request: Request, principal: AdminPage, form: Posted) -> Response:
    original = str(form.get("original_name") or "") or None
    saved = load(request, principal, original) if original else None
    screen = Screen(on_screen(form, saved), original, saved)
    streamed = "text/event-stream" in request.headers.get("accept", "")
    run = configtest._runner(request)
    try:
        account, password = _under_test(request, principal, screen.values, original)
    except ConfigError as refused:
        if streamed:
            steps = configtest._events(original or "unsaved", iter([_refusal(refused)]))
            return StreamingResponse(steps, media_type="text/event-stream", headers=NO_STORE)
        screen.errors = {refused.field: refused.message}
        screen.summary = f"Not tested: {refused}"
        return page(request, principal, screen, status_code=422)
    if streamed:
        return configtest._stream(account, run(account, password))
    screen.steps = list(run(account, password))
    screen.passed = all(step["ok"] for step in screen.steps)
    return page(request, principal, screen)


def _under_test(
    request: Request, principal: Principal, values: dict[str, Any], original: str | None
) -> tuple[Account, str | None]:
    """The account the values on screen describe, with the saved secrets they leave blank."""
    document = account_form.given(values)
    if not document.get("name"):
        document.pop("name", None)  # a name is not needed to test
    stored: Account | None = None
    if original is not None:
        with accounts(request, principal) as (_, service):
            stored = service.get(original)
        if "password" not in document and stored.password_encrypted:
            document["password_encrypted"] = stored.password_encrypted
    services = services_of(request)
    account, password = unsaved_account(
        document, services.secrets, source="form", actor=principal.name,
        default_name=original or "unsaved",
    )  # fmt: skip
    if stored is not None and account.auth_type == "oauth2" == stored.auth_type:
        for key in _SECRETS_KEPT:
            setattr(account, key, getattr(stored, key))
    return account, password


def _refusal(refused: ConfigError) -> dict[str, Any]:
    """A value refused before anything was tried, as a failed step naming the field."""
    return {"name": "values", "ok": False, "seconds": 0.0, "detail": str(refused),
            "hint": "correct the field and test again", "field": refused.field}  # fmt: skip
