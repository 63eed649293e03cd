"""Errors as RFC 9457 problem details (`application/problem+json`), with the CLI's words.

A refused value names its field and gives the same one-line reason as the command line, so a
script or the console can put it beside the field it concerns.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from shared.errors import ConfigError, MailpollError, NotFoundError, PermanentError

PROBLEM_JSON = "application/problem+json"
_TITLES = {
    400: "Bad request",
    401: "Not signed in",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    412: "Changed since you read it",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Invalid value",
    428: "If-Match required",
    429: "Too many attempts",
    503: "Not ready",
}


class ProblemDocument(BaseModel):
    """An RFC 9457 problem: `detail` is the one-line reason the command line gives too, and
    `field` names the refused field when there is one."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    field: str | None = None


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route that may answer these problems (for the OpenAPI document)."""
    return {
        status: {"model": ProblemDocument, "description": _TITLES.get(status, "Error")}
        for status in statuses
    }


class Problem(Exception):
    """Raise to answer with a problem document; `field` names the refused field, if any."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.field = field
        self.headers = headers or {}
        self.extensions = extensions or {}  # more members of the problem (RFC 9457 3.2)


def problem_response(
    status: int,
    detail: str,
    *,
    field: str | None = None,
    headers: dict[str, str] | None = None,
    extensions: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        **(extensions or {}),
        "type": "about:blank",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": " ".join(detail.split()),
    }
    if field is not None:
        body["field"] = field
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install(app: FastAPI) -> None:
    """Answer every error the app raises on purpose, and every framework error, as a problem."""
    _document_as_problem_json(app)

    @app.exception_handler(Problem)
    async def _problem(_request: Request, error: Problem) -> JSONResponse:
        return problem_response(
            error.status,
            error.detail,
            field=error.field,
            headers=error.headers,
            extensions=error.extensions,
        )

    @app.exception_handler(ConfigError)
    async def _config(_request: Request, error: ConfigError) -> JSONResponse:
        return problem_response(422, str(error), field=error.field)

    @app.exception_handler(NotFoundError)
    async def _not_found(_request: Request, error: NotFoundError) -> JSONResponse:
        return problem_response(404, str(error))

    @app.exception_handler(PermanentError)
    async def _permanent(_request: Request, error: PermanentError) -> JSONResponse:
        return problem_response(422, str(error))

    @app.exception_handler(MailpollError)
    async def _transient(_request: Request, error: MailpollError) -> JSONResponse:
        return problem_response(503, str(error))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0]
        location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query")]
        field = location[-1] if location else None
        reason = str(first.get("msg", "invalid value"))
        return problem_response(422, f"{field}: {reason}" if field else reason, field=field)

    @app.exception_handler(HTTPException)
    async def _http(_request: Request, error: HTTPException) -> JSONResponse:
        return problem_response(
            error.status_code, str(error.detail), headers=dict(error.headers or {})
        )


def _document_as_problem_json(app: FastAPI) -> None:
    """Say in the OpenAPI document what every route may answer besides its own: 401 and 403
    where it needs credentials, 400, 413 and 422 where it takes a body, 422 where it takes
    parameters; and that every problem is served as application/problem+json (FastAPI would
    list a response model under application/json, and its own validation error schema)."""
    build = app.openapi
    problem = {"$ref": "#/components/schemas/ProblemDocument"}

    def openapi() -> dict[str, Any]:
        document = build()  # FastAPI's, cached until routes change; what follows is idempotent
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas.setdefault("ProblemDocument", ProblemDocument.model_json_schema())
        for operations in document.get("paths", {}).values():
            for operation in operations.values():
                _implied_problems(operation)
                for status, response in operation["responses"].items():
                    if status.isdigit() and int(status) >= 400:
                        _as_problem(response, schemas, problem)
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _implied_problems(operation: dict[str, Any]) -> None:
    implied: set[int] = set()
    if operation.get("security"):
        implied |= {401, 403}
    if "requestBody" in operation:
        implied |= {400, 413, 422}
    if operation.get("parameters"):
        implied.add(422)
    responses = operation.setdefault("responses", {})
    for status in sorted(implied):
        responses.setdefault(str(status), {"description": _TITLES[status]})


def _as_problem(response: dict[str, Any], schemas: dict[str, Any], problem: dict[str, str]) -> None:
    """A response without content, or with FastAPI's validation error or a problem model
    under application/json, becomes a problem under application/problem+json."""
    content = response.setdefault("content", {})
    if PROBLEM_JSON in content:
        return
    schema = content.get("application/json", {}).get("schema")
    if schema is None:
        content[PROBLEM_JSON] = {"schema": problem}
        return
    name = str(schema.get("$ref", "")).rsplit("/", 1)[-1]
    if name == "HTTPValidationError":
        content.pop("application/json")
        content[PROBLEM_JSON] = {"schema": problem}
    elif {"status", "title", "detail"} <= set(schemas.get(name, {}).get("properties", {})):
        content[PROBLEM_JSON] = content.pop("application/json")
