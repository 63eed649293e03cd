"""The console: server-rendered pages for administrators, on the API's services and sessions.

`install(app)` adds the pages, their static files and the handlers that answer a refusal as
a page (sign in first, or an error page) rather than as a problem document.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from web.console import flash
from web.console.guard import PageRefused, SignInFirst
from web.console.pages import HERE, render
from web.console.routes import (
    account_actions,
    account_page,
    account_test,
    accounts_list,
    audit,
    live_events,
    settings,
    signin,
    status,
    transfer,
)

_TITLES = {403: "Not allowed", 404: "Not found", 409: "Conflict", 412: "Changed meanwhile"}


def install(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for module in (signin, accounts_list, account_page, account_test, account_actions, audit,
                   settings, status, live_events, transfer):  # fmt: skip
        app.include_router(module.router)
    app.add_exception_handler(SignInFirst, _sign_in_first)  # type: ignore[arg-type]
    app.add_exception_handler(PageRefused, _refused)  # type: ignore[arg-type]


async def _sign_in_first(request: Request, needed: SignInFirst) -> Response:
    target = "/signin?" + _query(needed.next_path)
    response: Response
    if "hx-request" in request.headers:
        response = Response(status_code=204, headers={"HX-Redirect": target})
    else:
        response = RedirectResponse(target, status_code=303)
    if needed.reason:
        flash.put(response, [("note", needed.reason)])
    return response


async def _refused(request: Request, refused: PageRefused) -> Response:
    return render(
        request, "error.html", None, status=refused.status,
        title=_TITLES.get(refused.status, "Refused"), reason=refused.reason,
    )  # fmt: skip


def _query(next_path: str) -> str:
    return urlencode({"next": next_path})
