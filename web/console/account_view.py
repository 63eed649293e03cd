"""Reading a saved account for its page, and rendering the Properties tab."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import FormData

from shared import properties, status
from shared.errors import NotFoundError
from shared.system_settings import SystemSettings
from web.auth import Principal, services_of
from web.console import account_form
from web.console.account_form import Values
from web.console.fields import BASIC_SETTINGS, DESCRIPTION
from web.console.guard import PageRefused
from web.console.pages import render
from web.etag import etag_of
from web.routes.accounts import accounts, shown
from web.routes.status import _due_times


@dataclass
class Saved:
    """A stored account as its page needs it: the API's view, form values, ETag and health."""

    view: dict[str, Any]
    values: Values
    etag: str
    health: status.StatusRow | None


@dataclass
class Screen:
    """What the Properties tab shows: the values, and what went wrong or was found."""

    values: Values
    original: str | None = None  # the saved name; None for a new account
    saved: Saved | None = None
    errors: dict[str, str] = field(default_factory=dict)
    summary: str = ""
    steps: list[dict[str, Any]] | None = None  # Test Configuration's steps, without JavaScript
    passed: bool | None = None


def load(request: Request, principal: Principal, name: str) -> Saved:
    """The saved account, or a 404 page."""
    services = services_of(request)
    try:
        with accounts(request, principal) as (session, service):
            account = service.get(name)
            view = shown(account, request)
            interval = SystemSettings(session, services.settings, actor=principal.name).get(
                "default_polling_interval"
            )
            health = status.of_accounts(
                session, [account], default_interval=int(interval or 60),
                due=_due_times(services),
            ).get(account.name)  # fmt: skip
            max_batch = account.max_batch
    except NotFoundError as missing:
        raise PageRefused(404, str(missing)) from None
    return Saved(view, account_form.from_view(view, max_batch=max_batch), etag_of(view), health)


def on_screen(form: FormData, saved: Saved | None) -> Values:
    """The values the administrator has on screen, over the saved ones (or a new account's)."""
    return account_form.from_form(form, saved.values if saved else account_form.NEW_ACCOUNT)


def page(
    request: Request, principal: Principal, screen: Screen, *, status_code: int = 200,
    fragment: bool = False,
) -> HTMLResponse:  # fmt: skip
    """The Properties tab (or, for htmx, only its fields)."""
    values = screen.values
    account_type = str(values.get("type") or "inbound")
    keys = [
        (key, spec.help, spec.outbound_default if account_type == "outbound"
         and spec.outbound_default is not None else spec.default)
        for key, spec in properties.SPECS.items() if account_type in spec.applies_to
    ]  # fmt: skip
    return render(
        request, "account_fields.html" if fragment else "account.html", principal,
        status=status_code, section="accounts", screen=screen, values=values,
        shown=account_form.available(values), default_port=account_form.default_port(values),
        fields=BASIC_SETTINGS, description=DESCRIPTION, property_keys=keys,
        editable=principal.role == "admin", tab="properties",
    )  # fmt: skip
