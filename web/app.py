"""The ASGI app: routers, problem details, security middleware, the OpenAPI document."""

from __future__ import annotations

from importlib.metadata import version

from fastapi import FastAPI

from web import problems
from web.routes import health, session
from web.services import WebServices

OPENAPI_URL = "/api/openapi.json"


def create_app(services: WebServices) -> FastAPI:
    """The app for one process; `services` carries everything it talks to."""
    app = FastAPI(
        title="mailpoll admin API",
        version=version("mailpoll"),
        description="Email accounts, their status, events and settings: everything the "
        "`mailpoll` command line does, over authenticated HTTP.",
        openapi_url=OPENAPI_URL,
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.services = services
    problems.install(app)
    app.include_router(health.router)
    app.include_router(session.router)
    return app
