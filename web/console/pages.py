"""Rendering console pages: the Jinja2 templates, what every page gets, and flashed messages."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse

from web.auth import Principal
from web.console import flash

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
NO_STORE = {"Cache-Control": "no-store"}  # pages carry account data and the CSRF token


def when(value: datetime | None) -> str:
    """A time as people read it in a log: UTC, to the second."""
    if value is None:
        return ""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """How long ago (or from now), roughly: "3 min ago", "in 20 s"."""
    if value is None:
        return ""
    seconds = ((now or datetime.now(UTC)) - value.astimezone(UTC)).total_seconds()
    span = abs(seconds)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if span >= size:
            amount = f"{int(span // size)} {unit}"
            break
    else:
        amount = f"{int(span)} s"
    return f"{amount} ago" if seconds >= 0 else f"in {amount}"


def due(value: datetime | None) -> str:
    """When something is due: "in 20 s", or "now" once the time has passed."""
    if value is None:
        return ""
    shown = ago(value)
    return shown if shown.startswith("in ") else "now"


templates.env.filters["when"] = when
templates.env.filters["ago"] = ago
templates.env.filters["due"] = due


def render(
    request: Request,
    template: str,
    principal: Principal | None,
    *,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A whole page (or, for htmx, a fragment template), with the flashed messages."""
    waiting = flash.waiting(request)
    messages = [*waiting, *context.pop("messages", [])]
    response = templates.TemplateResponse(
        request,
        template,
        {"principal": principal, "csrf_token": principal.csrf_token if principal else "",
         "messages": messages, **context},
        status_code=status,
        headers=NO_STORE,
    )  # fmt: skip
    if waiting:
        flash.forget(response)
    return response


def go(path: str, *messages: flash.Message) -> RedirectResponse:
    """See the page at `path`, with these messages on it (after a form: post, redirect, get)."""
    response = RedirectResponse(path, status_code=303)
    flash.put(response, list(messages))
    return response
