"""Export and Import: download the export; upload a file, read the dry-run report (created,
updated, unchanged, skipped as protected, refused), then apply it. The API's import runs both
steps, so the report and the refusals are the command line's."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from shared.accounts.documents import parse
from shared.errors import ConfigError
from web.auth import Principal, services_of
from web.console.guard import AdminPage, ViewerPage
from web.console.pages import render
from web.console.routes.account_page import Posted
from web.problems import Problem
from web.routes import transfer as api

router = APIRouter(include_in_schema=False)


@router.get("/transfer")
def transfer_page(request: Request, principal: ViewerPage) -> Response:
    return _page(request, principal)


@router.get("/transfer/export.json")
def download(request: Request, principal: ViewerPage, with_secrets: bool = False) -> Response:
    document = api.export(request, principal, with_secrets=with_secrets)
    return Response(
        json.dumps(document.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n",
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="mailpoll-accounts.json"',
                 "Cache-Control": "no-store"},
    )  # fmt: skip


@router.post("/transfer/check")
async def check(request: Request, principal: AdminPage, form: Posted) -> Response:
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _page(request, principal, error="Choose an export file to import.", status=422)
    text = (await upload.read()).decode("utf-8", errors="replace")
    return await run_in_threadpool(
        _run, request, principal, text, prune="prune" in form, dry_run=True
    )


@router.post("/transfer/apply")
def apply(request: Request, principal: AdminPage, form: Posted) -> Response:
    text = str(form.get("document") or "")
    return _run(request, principal, text, prune="prune" in form, dry_run=False)


def _run(
    request: Request, principal: Principal, text: str, *, prune: bool, dry_run: bool
) -> Response:
    services = services_of(request)
    try:
        document = parse(text.encode("utf-8"), api.SOURCE)
        report = api._import(services, principal, document, dry_run, prune)
    except ConfigError as refused:
        return _page(request, principal, error=f"The file was refused: {refused}", status=422)
    except Problem as refused:  # refusals inside: nothing written, the whole report
        return _page(request, principal, report=refused.extensions.get("report"),
                     outcome=refused.detail, status=refused.status)  # fmt: skip
    return _page(request, principal, report=report, document=text if dry_run else "",
                 prune=prune)  # fmt: skip


def _page(
    request: Request, principal: Principal, *, report: dict[str, Any] | None = None,
    document: str = "", prune: bool = False, outcome: str = "", error: str = "",
    status: int = 200,
) -> Response:  # fmt: skip
    return render(
        request, "transfer.html", principal, status=status, section="transfer", report=report,
        document=document, prune=prune, outcome=outcome, error=error,
    )  # fmt: skip
