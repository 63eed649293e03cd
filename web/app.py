"""The ASGI app: routers, problem details, security middleware, the OpenAPI document."""

from __future__ import annotations

from importlib.metadata import version

from fastapi import FastAPI

from web import apidocs, console, problems
from web.body_limit import BodyLimit
from web.metrics import MetricsMiddleware, WebMetrics
from web.routes import (
    accounts,
    configtest,
    deadletters,
    health,
    mail,
    metrics,
    oauth,
    session,
    settings,
    status,
    transfer,
)
from web.security import SecurityHeaders
from web.services import WebServices

OPENAPI_URL = "/api/openapi.json"
DOCS_URL = "/api/docs"


def create_app(services: WebServices) -> FastAPI:
    """The app for one process; `services` carries everything it talks to."""
    app = FastAPI(
        title="mailpoll admin API",
        version=version("mailpoll"),
        description="Email accounts, their status, events and settings: everything the "
        "`mailpoll` command line does, over authenticated HTTP.",
        openapi_url=OPENAPI_URL,
        docs_url=None,  # served from the package below: no CDN
        redoc_url=None,
    )
    app.state.services = services
    app.state.metrics = WebMetrics()
    problems.install(app)
    # The last added runs first: metrics see every answer, security headers go on every
    # answer (a refused body too), the body limit is checked nearest the routes (a 413 is
    # then a problem document like every other refusal).
    app.add_middleware(BodyLimit, max_bytes=services.settings.web_max_body_mb * 2**20)
    app.add_middleware(SecurityHeaders, docs_path=DOCS_URL)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    for module in (health, metrics, session, accounts, transfer, settings, status, deadletters):
        app.include_router(module.router)
    for module in (oauth, configtest, mail):
        app.include_router(module.router)
    apidocs.install(app, docs_url=DOCS_URL, openapi_url=OPENAPI_URL)
    console.install(app)
    return app
