"""`/api/account-export` and `/api/account-import`: the JSON of `mailpoll accounts export` and
`import`, with the same checks, the protect-during-import report and a dry run."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from shared.accounts.display import import_outcome, import_report_view
from shared.accounts.documents import parse
from shared.accounts.service import AccountService
from shared.accounts.transfer import export_accounts, import_accounts
from web.auth import Admin, Principal, Viewer, services_of
from web.problems import Problem, ProblemDocument, documented
from web.services import WebServices

router = APIRouter(tags=["export and import"], responses=documented(401, 403, 422))
SOURCE = "body"  # what a refusal of the document as a whole names


class ExportDocument(BaseModel):
    """`{"version": 1, "accounts": [...]}`: passwords only encrypted, and only when asked."""

    version: int
    accounts: list[dict[str, Any]]


class Refusal(BaseModel):
    name: str
    reason: str


class ImportReport(BaseModel):
    """Names per outcome, each updated account's changes as [old, new] (secrets only as
    (changed)), and every refusal with its one-line reason."""

    dry_run: bool
    written: bool
    created: list[str]
    updated: list[str]
    unchanged: list[str]
    skipped_protected: list[str]
    removed: list[str]
    changes: dict[str, dict[str, list[Any]]]
    refused: list[Refusal]


class ImportRefused(ProblemDocument):
    """Any refusal writes nothing: the problem carries the whole report."""

    report: ImportReport | None = None


@router.get("/api/account-export", summary="Every account as an export document")
def export(
    request: Request,
    principal: Viewer,
    with_secrets: Annotated[
        bool, Query(description="add passwords ENCRYPTED with this instance's key (admin only)")
    ] = False,
) -> ExportDocument:
    if with_secrets and principal.role != "admin":
        raise Problem(403, "with_secrets needs the admin role")
    services = services_of(request)
    with services.database.session() as session:
        service = AccountService(session, secrets=services.secrets, actor=principal.name)
        return ExportDocument.model_validate(
            export_accounts(service.list(), with_secrets=with_secrets)
        )


@router.post(
    "/api/account-import",
    summary="Create and update accounts from an export document; all or nothing",
    responses={422: {"model": ImportRefused, "description": "refused: nothing written"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ExportDocument.model_json_schema()}},
        }
    },
)
async def import_(
    request: Request,
    principal: Admin,
    dry_run: Annotated[bool, Query(description="check and report, change nothing")] = False,
    prune: Annotated[bool, Query(description="remove unprotected accounts not listed")] = False,
) -> ImportReport:
    document = parse(await request.body(), SOURCE)
    services = services_of(request)
    view = await run_in_threadpool(_import, services, principal, document, dry_run, prune)
    return ImportReport.model_validate(view)


def _import(
    services: WebServices, principal: Principal, document: Any, dry_run: bool, prune: bool
) -> dict[str, Any]:
    with services.database.session() as session:
        service = AccountService(session, secrets=services.secrets, actor=principal.name)
        report = import_accounts(service, services.secrets(), document, prune=prune, source=SOURCE)
        if dry_run or not report.ok:
            session.rollback()
    view = import_report_view(report, dry_run=dry_run)
    if not report.ok:
        outcome = import_outcome(report, dry_run=dry_run)
        raise Problem(422, outcome, field="import", extensions={"report": view})
    return view
