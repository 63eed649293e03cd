"""Status: each inbound account's health, failures with the last error, dead letters with
Replay (the checks and words of `mailpoll dead-letters replay`), and received events live."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from shared import deadletters, status
from shared.errors import ConfigError
from shared.system_settings import SystemSettings
from web.auth import services_of
from web.console.guard import AdminPage, ViewerPage
from web.console.pages import go, render
from web.console.routes.account_page import Posted
from web.paging import decode_cursor, encode_cursor
from web.routes.status import _due_times

router = APIRouter(include_in_schema=False)
PAGE = 100
LETTERS = 50


@router.get("/status")
def status_page(
    request: Request,
    principal: ViewerPage,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    after: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    services = services_of(request)
    with services.database.session() as session:
        interval = SystemSettings(session, services.settings, actor=principal.name).get(
            "default_polling_interval"
        )
        rows = status.page(
            session, after=decode_cursor(cursor), limit=PAGE + 1,
            default_interval=int(interval or 60), due=_due_times(services),
        )  # fmt: skip
        letters = deadletters.rows(session, after_id=after, limit=LETTERS + 1)
    fragment = request.headers.get("hx-target") == "health-table"
    return render(
        request, "status_health.html" if fragment else "status.html", principal,
        section="status", rows=rows[:PAGE], paged=cursor is not None,
        next_cursor=encode_cursor(rows[PAGE - 1].account) if len(rows) > PAGE else None,
        letters=letters[:LETTERS], letters_paged=after is not None,
        next_letter=letters[LETTERS - 1]["id"] if len(letters) > LETTERS else None,
        live=services.follow_events is not None,
    )  # fmt: skip


@router.post("/status/replay")
def replay(request: Request, principal: AdminPage, form: Posted) -> Response:
    raw = str(form.get("id") or "")
    if not raw.isdigit():
        return go("/status#dead-letters", ("error", "Replay: no dead letter was chosen."))
    services = services_of(request)
    try:
        with services.database.session() as session:
            replayed, waiting = deadletters.replay(session, [int(raw)], None, None)
    except ConfigError as refused:
        return go("/status#dead-letters", ("error", f"Nothing was replayed: {refused.message}."))
    return go("/status#dead-letters", ("ok", deadletters.replay_summary(replayed, waiting) + "."))
