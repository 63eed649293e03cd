"""An account's Audit tab: created and modified by and at, and every change with old and new
values (secrets only as set or changed), from the same history as `mailpoll accounts history`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shared.accounts import audit
from shared.accounts.display import history_view
from web.auth import services_of
from web.console.account_view import Screen, load
from web.console.fields import BY_NAME
from web.console.guard import ViewerPage
from web.console.pages import render

router = APIRouter(include_in_schema=False)


@router.get("/accounts/{name}/audit")
def audit_tab(request: Request, principal: ViewerPage, name: str) -> Response:
    saved = load(request, principal, name)
    with services_of(request).database.session() as session:
        entries = history_view(audit.history(session, kind="account", name=name))
    labels = {key: spec.label for key, spec in BY_NAME.items()}
    return render(
        request, "account_audit.html", principal, section="accounts", tab="audit",
        screen=Screen(saved.values, name, saved), values=saved.values,
        entries=list(reversed(entries)), labels=labels,
    )  # fmt: skip
