"""The web process's parts: the app's services from the settings, and uvicorn to serve it."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

import redis
import sqlalchemy as sa

from mailpoll.app import App
from web.services import Check, WebServices

if TYPE_CHECKING:
    import uvicorn

log = logging.getLogger(__name__)


def web_services(app: App) -> WebServices:
    """What the web app needs, built from the process's App."""
    readiness: dict[str, Check] = {"database": lambda: _database_check(app)}
    if app.settings.redis_url:
        url = app.settings.redis_url
        readiness["redis"] = lambda: _redis_check(url)
    return WebServices(
        settings=app.settings,
        database=app.database,
        secrets=lambda: app.secrets,
        readiness=readiness,
    )


def _database_check(app: App) -> str | None:
    try:
        with app.database.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as error:
        return f"database: {str(getattr(error, 'orig', None) or error).splitlines()[0]}"
    return None


def _redis_check(url: str) -> str | None:
    try:
        with redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2) as client:
            client.ping()
    except redis.RedisError as error:
        return f"redis: {error}"
    return None


def server(app: App, *, host: str, port: int) -> uvicorn.Server:
    """A uvicorn server for the admin API; `run()` it, or `in_thread` beside other work."""
    import uvicorn

    from web.app import create_app

    config = uvicorn.Config(
        create_app(web_services(app)),
        host=host,
        port=port,
        log_config=None,  # mailpoll's logging, configured at the entry point
        proxy_headers=False,
        server_header=False,
    )
    return uvicorn.Server(config)


def in_thread(web: uvicorn.Server) -> threading.Thread:
    """Serve from a daemon thread (`mailpoll run`); stop with `web.should_exit = True`."""
    thread = threading.Thread(target=web.run, name="web", daemon=True)
    thread.start()
    return thread
