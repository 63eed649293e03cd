"""`/healthz` (the process answers) and `/readyz` (what it needs answers too)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from web.services import WebServices

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="The database (and Redis, where configured) answer",
    responses={503: {"description": "a dependency does not answer"}},
)
def readyz(request: Request) -> JSONResponse:
    services: WebServices = request.app.state.services
    checks = {name: check() for name, check in services.readiness.items()}
    failing = {name: reason for name, reason in checks.items() if reason is not None}
    status = 503 if failing else 200
    body = {"status": "ok" if not failing else "failing", "checks": checks}
    return JSONResponse(body, status_code=status)
