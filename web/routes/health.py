"""`/healthz` (the process answers) and `/readyz` (what it needs answers too)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from web.services import WebServices

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    """`ok`, or `failing` with each failing check's one-line reason (null: that one is fine)."""

    status: str
    checks: dict[str, str | None]


@router.get("/healthz", summary="The process is alive")
def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="The database (and Redis, where configured) answer",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "a dependency does not answer"}},
)
def readyz(request: Request) -> JSONResponse:
    services: WebServices = request.app.state.services
    checks = {name: check() for name, check in services.readiness.items()}
    failing = {name: reason for name, reason in checks.items() if reason is not None}
    status = 503 if failing else 200
    body = {"status": "ok" if not failing else "failing", "checks": checks}
    return JSONResponse(body, status_code=status)
