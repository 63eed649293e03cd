"""`/api/accounts`: list (paged, filtered, searched), show, create, update, enable, disable,
remove and history of email accounts, through the same service as `mailpoll accounts`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Header, Query, Request, Response
from sqlmodel import Session

from shared.accounts import audit, query
from shared.accounts.display import account_view, history_view
from shared.accounts.service import AccountService, Outcome
from shared.db.models import Account
from shared.oauth_store import token_fields
from web.auth import Admin, Principal, Viewer, services_of
from web.etag import check_if_match, etag_of
from web.paging import decode_cursor, encode_cursor, safe_text
from web.problems import documented
from web.schemas import AccountChange, AccountPage, HistoryEntry, account_fields_schema

router = APIRouter(prefix="/api/accounts", tags=["accounts"], responses=documented(401, 403, 422))
ITEM = "/{name}"
IfMatch = Annotated[
    str | None,
    Header(description="the ETag of the account as read; required to update"),
]
AccountBody = Body(
    openapi_examples={
        "inbound": {
            "value": {
                "name": "support", "type": "inbound", "host": "imap.example.com",
                "login": "support@example.com", "password": "…", "polling_interval": 60,
            }
        }
    },
)  # fmt: skip
_BODY_SCHEMA = {
    "requestBody": {"content": {"application/json": {"schema": account_fields_schema()}}}
}


@contextmanager
def accounts(request: Request, principal: Principal) -> Iterator[tuple[Session, AccountService]]:
    """The account service in one transaction, acting as the caller (the audit's actor)."""
    services = services_of(request)
    with services.database.session() as session:
        yield session, AccountService(session, secrets=services.secrets, actor=principal.name)


@router.get("", summary="A page of accounts, by name", response_model_exclude_unset=True)
def list_accounts(
    request: Request,
    principal: Viewer,
    cursor: Annotated[str | None, Query(description="next_cursor of the page before")] = None,
    limit: Annotated[int, Query(ge=1, le=query.MAX_PAGE)] = 100,
    type: Literal["inbound", "outbound"] | None = None,
    enabled: bool | None = None,
    protocol: Literal["imap", "pop3", "smtp"] | None = None,
    failing: Annotated[bool | None, Query(description="inbound accounts failing now")] = None,
    search: Annotated[
        str | None, Query(max_length=200, description="part of the name, host or description")
    ] = None,
) -> AccountPage:
    where = query.AccountFilter(type, enabled, protocol, failing, safe_text("search", search))
    with accounts(request, principal) as (session, _):
        found = query.page(session, where, after=decode_cursor(cursor), limit=limit + 1)
        views = [account_view(account) for account in found[:limit]]
    more = len(found) > limit
    return AccountPage(items=views, next_cursor=encode_cursor(views[-1]["name"]) if more else None)


@router.get(
    ITEM,
    summary="One account; its ETag is what an update must send as If-Match",
    response_model_exclude_unset=True,
    responses=documented(404),
)
def show_account(name: str, request: Request, response: Response, principal: Viewer) -> Any:
    with accounts(request, principal) as (_, service):
        view = shown(service.get(name), request)
    response.headers["ETag"] = etag_of(view)
    return view


@router.post(
    "",
    status_code=201,
    summary="Create an account (same fields and rules as `mailpoll accounts add`)",
    response_model_exclude_unset=True,
    openapi_extra=_BODY_SCHEMA,
)
def create_account(
    request: Request,
    response: Response,
    principal: Admin,
    given: Annotated[dict[str, Any], AccountBody],
) -> AccountChange:
    with accounts(request, principal) as (_, service):
        outcome = service.add(given)
    response.headers["Location"] = f"/api/accounts/{outcome.account.name}"
    return _change(outcome, request, response)


@router.patch(
    ITEM,
    summary="Change the fields given (rename with `name`); needs If-Match",
    response_model_exclude_unset=True,
    responses=documented(404, 412, 428),
    openapi_extra=_BODY_SCHEMA,
)
def update_account(
    name: str,
    request: Request,
    response: Response,
    principal: Admin,
    given: Annotated[dict[str, Any], AccountBody],
    if_match: IfMatch = None,
) -> AccountChange:
    with accounts(request, principal) as (session, service):
        account = service.get(name)
        session.refresh(account, with_for_update=True)  # a concurrent save waits, then gets 412
        check_if_match(if_match, etag_of(shown(account, request)))
        outcome = service.update(name, given)
    return _change(outcome, request, response)


@router.post(
    ITEM + "/enable",
    summary="Enable (refused for a second outbound account)",
    response_model_exclude_unset=True,
    responses=documented(404, 412),
)
def enable_account(
    name: str, request: Request, response: Response, principal: Admin, if_match: IfMatch = None
) -> AccountChange:
    return _switch(name, True, request, response, principal, if_match)


@router.post(
    ITEM + "/disable",
    summary="Disable: neither polled nor used to send",
    response_model_exclude_unset=True,
    responses=documented(404, 412),
)
def disable_account(
    name: str, request: Request, response: Response, principal: Admin, if_match: IfMatch = None
) -> AccountChange:
    return _switch(name, False, request, response, principal, if_match)


@router.delete(
    ITEM,
    status_code=204,
    summary="Remove the account and its poll state (stored messages stay)",
    responses=documented(404, 412),
)
def remove_account(
    name: str, request: Request, principal: Admin, if_match: IfMatch = None
) -> Response:
    with accounts(request, principal) as (session, service):
        account = service.get(name)
        session.refresh(account, with_for_update=True)
        check_if_match(if_match, etag_of(shown(account, request)), required=False)
        service.remove(name)
    return Response(status_code=204)


@router.get(
    ITEM + "/history",
    summary="Who changed the account, when, each field's old and new value",
)
def account_history(name: str, request: Request, principal: Viewer) -> list[HistoryEntry]:
    with services_of(request).database.session() as session:
        entries = audit.history(session, kind="account", name=safe_text("name", name) or "")
        return [HistoryEntry.model_validate(entry) for entry in history_view(entries)]


def _switch(
    name: str,
    enabled: bool,
    request: Request,
    response: Response,
    principal: Principal,
    if_match: str | None,
) -> AccountChange:
    with accounts(request, principal) as (session, service):
        account = service.get(name)
        session.refresh(account, with_for_update=True)
        check_if_match(if_match, etag_of(shown(account, request)), required=False)
        outcome = service.set_enabled(name, enabled)
    return _change(outcome, request, response)


def shown(account: Account, request: Request) -> dict[str, Any]:
    """One account as shown and tagged: its fields and whom its OAuth2 token is for."""
    return {**account_view(account), **token_fields(account, services_of(request).secrets)}


def _change(outcome: Outcome, request: Request, response: Response) -> AccountChange:
    """The change as answered, with the new ETag: the next update needs no second read."""
    view = shown(outcome.account, request)
    response.headers["ETag"] = etag_of(view)
    return AccountChange(
        action=outcome.action, account=view, changes=outcome.changes, notes=outcome.notes
    )
