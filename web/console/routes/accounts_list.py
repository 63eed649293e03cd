"""The Email Accounts list: health at a glance, filter, search, and keyset pages."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from shared import status
from shared.accounts import query
from shared.system_settings import SystemSettings
from web.auth import services_of
from web.console.guard import ViewerPage
from web.console.pages import render
from web.paging import decode_cursor, encode_cursor, safe_text
from web.routes.status import _due_times

router = APIRouter(include_in_schema=False)
PAGE = 50


@router.get("/accounts")
def accounts_list(
    request: Request,
    principal: ViewerPage,
    q: Annotated[str, Query(max_length=200)] = "",
    type: Literal["", "inbound", "outbound"] = "",
    enabled: Literal["", "yes", "no"] = "",
    health: Literal["", "failing", "ok"] = "",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    where = query.AccountFilter(
        type=type or None,
        enabled=None if not enabled else enabled == "yes",
        failing=None if not health else health == "failing",
        search=safe_text("search", q.strip()) or None,
    )
    services = services_of(request)
    with services.database.session() as session:
        found = query.page(session, where, after=decode_cursor(cursor), limit=PAGE + 1)
        shown = found[:PAGE]
        total = query.count(session, where)
        interval = SystemSettings(session, services.settings, actor=principal.name).get(
            "default_polling_interval"
        )
        health_of = status.of_accounts(
            session, shown, default_interval=int(interval or 60), due=_due_times(services)
        )
    more = len(found) > PAGE
    fragment = request.headers.get("hx-target") == "account-table"
    return render(
        request, "accounts_table.html" if fragment else "accounts.html", principal,
        section="accounts", accounts=shown, health=health_of, total=total,
        next_cursor=encode_cursor(shown[-1].name) if more else None, paged=cursor is not None,
        filters={"q": q, "type": type, "enabled": enabled, "health": health},
    )  # fmt: skip
