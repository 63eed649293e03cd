"""The web process's parts: the app's services from the settings, and uvicorn to serve it."""

from __future__ import annotations

import logging
import socket
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import redis
import sqlalchemy as sa

from mailpoll import web_workers
from mailpoll.app import App
from shared.errors import MailpollError
from web.services import Check, WebServices

if TYPE_CHECKING:
    import uvicorn

    from shared.status import DueTimes

log = logging.getLogger(__name__)
BACKLOG = 2048  # uvicorn's own default


def web_services(app: App) -> WebServices:
    """What the web app needs, built from the process's App."""
    readiness: dict[str, Check] = {"database": lambda: _database_check(app)}
    due_times: DueTimes | None = None
    if app.settings.redis_url:
        url = app.settings.redis_url
        readiness["redis"] = lambda: _redis_check(url)
        due_times = _schedule(url)
    return WebServices(
        settings=app.settings,
        database=app.database,
        secrets=lambda: app.secrets,
        config_test=web_workers.config_test(app),
        send_mail=web_workers.send_mail(app),
        follow_events=web_workers.follow_events(app),
        readiness=readiness,
        due_times=due_times,
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


def _schedule(url: str) -> DueTimes:
    """Next due times of a page of accounts, from the poll schedule (one round trip)."""
    from shared.status import scheduled

    return scheduled(redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2))


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, made before anything else starts: an address in use (another
    mailpoll web?) or not of this machine is one line, not a traceback from inside uvicorn."""
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
        family, kind, proto, _, address = found[0]
        # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY only on sockets that say TCP, and
        # without it a small answer waits for the client's delayed ACK (40 ms on Linux).
        sock = socket.socket(family, kind, proto)
    except OSError as error:
        raise MailpollError(f"web: cannot listen on {where}: {error.strerror or error}") from None
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as error:
        sock.close()
        hint = " (another process has it: choose another port, MAILPOLL_WEB_PORT)"
        in_use = error.errno in (98, 48)  # EADDRINUSE on Linux, macOS
        raise MailpollError(
            f"web: cannot listen on {where}: {error.strerror or error}{hint if in_use else ''}"
        ) from None
    # Listening now, not when uvicorn's thread gets to it: from the moment `run` says where
    # the API is, a connection waits in the backlog instead of being refused.
    sock.listen(BACKLOG)
    return sock


def server(app: App, *, host: str, port: int) -> uvicorn.Server:
    """A uvicorn server for the admin API; `run(sockets=[listen(...)])` it, or `in_thread`."""
    import uvicorn

    from web.app import create_app

    config = uvicorn.Config(
        create_app(web_services(app)),
        host=host,
        port=port,
        log_config=None,  # mailpoll's logging, configured at the entry point
        access_log=False,  # web.access logs requests without their query strings
        # Only named proxies may say who the client is (X-Forwarded-For): the sign-in
        # throttle counts per client address, and anyone else could name any address.
        proxy_headers=bool(app.settings.web_trusted_proxies),
        forwarded_allow_ips=app.settings.web_trusted_proxies or None,
        server_header=False,
    )
    return uvicorn.Server(config)


def in_thread(web: uvicorn.Server, sock: socket.socket | None = None) -> threading.Thread:
    """Serve from a daemon thread (`mailpoll run`); stop with `web.should_exit = True`."""
    sockets = None if sock is None else [sock]
    thread = threading.Thread(target=web.run, kwargs={"sockets": sockets}, name="web", daemon=True)
    thread.start()
    return thread


@dataclass
class Beside:
    """The admin API served from a thread beside other work (`mailpoll run`)."""

    web: uvicorn.Server
    thread: threading.Thread
    url: str

    @classmethod
    def start(cls, app: App) -> Beside:
        """Listen on MAILPOLL_WEB_HOST:MAILPOLL_WEB_PORT; MailpollError when that is taken."""
        host, port = app.settings.web_host, app.settings.web_port
        sock = listen(host, port)
        web = server(app, host=host, port=port)
        return cls(web, in_thread(web, sock), url(host, port))

    def stop(self, timeout: float = 10.0) -> None:
        self.web.should_exit = True
        self.thread.join(timeout)


def url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
