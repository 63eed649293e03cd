"""Test Configuration over HTTP: the steps of `mailpoll accounts test`, streamed as they finish.

The answer is `text/event-stream`: one `step` event per finished step (the same name, server
words and hint as the command line), then one `done` event saying whether every step passed.
Admin only, since it connects out with the account's credentials; it saves nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import StreamingResponse

from shared.accounts.service import AccountService
from shared.accounts.trial import unsaved_account
from shared.db.models import Account
from web.auth import Admin, services_of
from web.problems import Problem, documented
from web.services import ConfigTest

router = APIRouter(tags=["test configuration"], responses=documented(401, 403, 422, 503))
_STREAM: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "`step` events as the steps finish, then a `done` event",
        "content": {
            "text/event-stream": {
                "itemSchema": {  # each event: its name, and its data as JSON text
                    "type": "object",
                    "required": ["event", "data"],
                    "properties": {
                        "event": {"enum": ["step", "done"]},
                        "data": {"type": "string", "contentMediaType": "application/json"},
                    },
                }
            }
        },
    }
}
UnsavedBody = Body(
    description="one account's fields as export and import spell them (a `password` may be "
    "given), or an export that holds one account",
    openapi_examples={
        "inbound": {
            "value": {
                "type": "inbound", "host": "imap.example.com", "login": "support@example.com",
                "password": "…",
            }
        }
    },
)  # fmt: skip


@router.post(
    "/api/accounts/{name}/test",
    summary="Test Configuration of a saved account, step by step (server-sent events)",
    response_class=StreamingResponse,
    responses={**_STREAM, **documented(404)},
)
def run_saved_test(name: str, request: Request, principal: Admin) -> StreamingResponse:
    services = services_of(request)
    run = _runner(request)
    with services.database.session() as session:
        account = AccountService(session, secrets=services.secrets, actor=principal.name).get(name)
    return _stream(account, run(account, None))


@router.post(
    "/api/account-tests",
    summary="Test Configuration of values that are not saved (server-sent events)",
    response_class=StreamingResponse,
    responses=_STREAM,
)
def run_unsaved_test(
    request: Request, principal: Admin, given: Annotated[dict[str, Any], UnsavedBody]
) -> StreamingResponse:
    run = _runner(request)
    services = services_of(request)
    account, password = unsaved_account(
        given, services.secrets, source="body", actor=principal.name
    )
    return _stream(account, run(account, password))


def _runner(request: Request) -> ConfigTest:
    run = services_of(request).config_test
    if run is None:
        raise Problem(503, "Test Configuration is not available in this process")
    return run


def _stream(account: Account, steps: Iterator[dict[str, Any]]) -> StreamingResponse:
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(
        _events(account.name, steps), media_type="text/event-stream", headers=headers
    )


def _events(name: str, steps: Iterator[dict[str, Any]]) -> Iterator[str]:
    passed = True
    for step in steps:
        passed = passed and bool(step["ok"])
        yield _event("step", step)
    yield _event("done", {"account": name, "passed": passed})


def _event(kind: str, data: dict[str, Any]) -> str:
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
