"""`/api/dead-letters`: messages that failed every try, and replaying them (the checks and
words of `mailpoll dead-letters`: one unknown id refuses the whole replay)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from shared import deadletters
from shared.accounts.service import AccountService
from web.auth import Admin, Viewer, services_of
from web.problems import Problem, documented

router = APIRouter(
    prefix="/api/dead-letters", tags=["dead letters"], responses=documented(401, 403, 404, 422)
)
MAX_PAGE = 500


class DeadLetter(BaseModel):
    id: int
    account: str
    folder: str
    uidvalidity: int | None
    uid: int | None
    uidl: str | None
    error: str
    attempts: int
    last_failed_at: datetime
    state: str  # dead, or replay pending


class DeadLetterPage(BaseModel):
    """Dead letters by id; pass `next_cursor` as `after` for the next page."""

    items: list[DeadLetter]
    next_cursor: int | None


class Replay(BaseModel):
    ids: Annotated[list[int], Field(max_length=10_000, description="dead-letter ids")] = []
    account: Annotated[str | None, Field(description="every dead letter of this account")] = None


class Replayed(BaseModel):
    replayed: int
    already_waiting: int
    message: str


@router.get("", summary="A page of dead letters, by id")
def list_dead_letters(
    request: Request,
    principal: Viewer,
    account: Annotated[str | None, Query(description="only this account")] = None,
    after: Annotated[int | None, Query(ge=0, description="next_cursor of the page before")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> DeadLetterPage:
    services = services_of(request)
    with services.database.session() as session:
        service = AccountService(session, secrets=services.secrets, actor=principal.name)
        account_id = service.get(account).id if account is not None else None
        rows = deadletters.rows(session, account_id, after_id=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return DeadLetterPage(
        items=[DeadLetter.model_validate(row) for row in rows],
        next_cursor=rows[-1]["id"] if more else None,
    )


@router.post("/replay", summary="Try these dead letters again at the account's next poll")
def replay(body: Replay, request: Request, principal: Admin) -> Replayed:
    if not body.ids and body.account is None:
        raise Problem(422, "ids: give dead-letter ids or an account", field="ids")
    services = services_of(request)
    with services.database.session() as session:
        service = AccountService(session, secrets=services.secrets, actor=principal.name)
        account_id = service.get(body.account).id if body.account is not None else None
        replayed, waiting = deadletters.replay(session, body.ids, account_id, body.account)
    return Replayed(
        replayed=replayed,
        already_waiting=waiting,
        message=deadletters.replay_summary(replayed, waiting),
    )
