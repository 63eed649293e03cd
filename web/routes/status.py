"""`/api/status`: how each inbound account's polling goes, a page at a time (what `mailpoll
status` prints, from the same query)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from shared import status
from shared.errors import MailpollError
from shared.system_settings import SystemSettings
from web.auth import Viewer, services_of
from web.paging import decode_cursor, encode_cursor
from web.problems import documented
from web.services import WebServices

router = APIRouter(tags=["status"], responses=documented(401, 403, 422))
MAX_PAGE = 500


class StatusPage(BaseModel):
    """Inbound accounts by name; pass `next_cursor` as `cursor` for the next page."""

    items: list[status.StatusRow]
    next_cursor: str | None


@router.get("/api/status", summary="A page of inbound accounts' polling status")
def status_page(
    request: Request,
    principal: Viewer,
    cursor: Annotated[str | None, Query(description="next_cursor of the page before")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> StatusPage:
    services = services_of(request)
    with services.database.session() as session:
        store = SystemSettings(session, services.settings, actor=principal.name)
        default_interval = int(store.get("default_polling_interval") or 60)
        rows = status.page(
            session,
            after=decode_cursor(cursor),
            limit=limit + 1,
            default_interval=default_interval,
            due=_due_times(services),
        )
    more = len(rows) > limit
    rows = rows[:limit]
    return StatusPage(
        items=rows,
        next_cursor=encode_cursor(rows[-1].account) if more else None,
    )


def _due_times(services: WebServices) -> status.DueTimes | None:
    """The schedule's due times when there is one to ask; estimates when it does not answer."""
    lookup = services.due_times
    if lookup is None:
        return None

    def due(ids: Sequence[int]) -> dict[int, float]:
        try:
            return dict(lookup(ids))
        except MailpollError:
            return {}

    return due
