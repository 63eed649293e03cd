"""An account's Properties tab: new and saved accounts, Save, and live field availability.

Save goes through `AccountService` exactly as the API's create and update do (If-Match with
the ETag the page was rendered with, so a second admin's save is not silently overwritten);
a refusal is shown beside the field it names, in the service's words.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from shared import properties
from shared.errors import ConfigError
from web.console import account_form, flash
from web.console.account_view import Saved, Screen, load, on_screen, page
from web.console.guard import AdminPage, ViewerPage
from web.console.pages import go, render
from web.etag import check_if_match, etag_of
from web.problems import Problem
from web.routes.accounts import accounts, shown

router = APIRouter(include_in_schema=False)


async def posted(request: Request) -> FormData:
    return await request.form()


Posted = Annotated[FormData, Depends(posted)]


@router.get("/new-account")
def new_account(request: Request, principal: AdminPage, type: str = "inbound") -> Response:
    values = dict(account_form.NEW_ACCOUNT)
    if type == "outbound":
        values.update(type="outbound", auth_type="local", encryption="starttls")
    return page(request, principal, Screen(values))


@router.post("/new-account")
def create_account(request: Request, principal: AdminPage, form: Posted) -> Response:
    screen = Screen(on_screen(form, None))
    if form.get("action") == "refresh":
        return page(request, principal, screen)
    try:
        with accounts(request, principal) as (_, service):
            outcome = service.add(account_form.given(screen.values))
    except ConfigError as refused:
        return _not_saved(request, principal, screen, refused, "The account was not created")
    name = outcome.account.name
    return go(f"/accounts/{name}", ("ok", f"Created {name}."), *_notes(outcome.notes))


@router.get("/accounts/{name}")
def account(request: Request, principal: ViewerPage, name: str) -> Response:
    saved = load(request, principal, name)
    return page(request, principal, Screen(saved.values, name, saved))


@router.post("/accounts/{name}")
def save_account(request: Request, principal: AdminPage, name: str, form: Posted) -> Response:
    saved = load(request, principal, name)
    screen = Screen(on_screen(form, saved), name, saved)
    if form.get("action") == "refresh":
        return page(request, principal, screen)
    etag = str(form.get("etag") or "")
    try:
        with accounts(request, principal) as (session, service):
            stored = service.get(name)
            session.refresh(stored, with_for_update=True)  # a concurrent save waits, then 412
            check_if_match(etag, etag_of(shown(stored, request)))
            outcome = service.update(name, account_form.given(screen.values))
    except ConfigError as refused:
        return _not_saved(request, principal, screen, refused, "The account was not saved")
    except Problem as changed:  # 412: someone saved it since this page was rendered
        screen.summary = (
            "The account was not saved: someone changed it since you opened it. Open it again "
            "to see their change, then redo yours."
        )
        return page(request, principal, screen, status_code=changed.status)
    new_name = outcome.account.name
    if outcome.action == "unchanged":
        return go(f"/accounts/{new_name}", ("note", "Nothing to save: no field was changed."))
    changed_fields = ", ".join(outcome.changes)
    return go(
        f"/accounts/{new_name}", ("ok", f"Saved {new_name} ({changed_fields})."),
        *_notes(outcome.notes),
    )  # fmt: skip


@router.post("/account-fields")
def account_fields(request: Request, principal: ViewerPage, form: Posted) -> Response:
    """The fields for the choices on screen (htmx: live availability and default port)."""
    original = str(form.get("original_name") or "") or None
    saved: Saved | None = load(request, principal, original) if original else None
    screen = Screen(on_screen(form, saved), original, saved)
    return page(request, principal, screen, fragment=True)


@router.post("/account-properties")
def check_properties(request: Request, principal: ViewerPage, form: Posted) -> Response:
    """The Properties field checked as it is typed: the error beside it, or nothing."""
    account_type = "outbound" if form.get("type") == "outbound" else "inbound"
    text = str(form.get("properties") or "").replace("\r\n", "\n")
    try:
        properties.check(text, account_type)
        error = ""
    except ConfigError as refused:
        error = refused.message
    return render(request, "properties_error.html", principal, error=error)


def _not_saved(
    request: Request, principal: ViewerPage, screen: Screen, refused: ConfigError, what: str
) -> Response:
    screen.errors = {refused.field: refused.message}
    screen.summary = f"{what}: {refused}"
    return page(request, principal, screen, status_code=422)


def _notes(notes: list[str]) -> list[flash.Message]:
    return [("note", note[:1].upper() + note[1:] + ".") for note in notes]
