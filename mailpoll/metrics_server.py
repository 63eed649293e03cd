"""`/metrics`, `/healthz` and `/readyz` on MAILPOLL_METRICS_PORT, served from a thread beside a
role's work (worker, scheduler, watcher, web, run).

`/healthz` says whether the process still does its work (a liveness probe restarts it when
not) and never asks the database or Redis: an outage of theirs must not restart every pod.
`/readyz` says whether what the role needs answers. Both answer JSON, `{"status": "ok"}` or
`"failing"` with each check's one-line reason (null: that one is fine), 200 or 503.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics_core import Metric

from shared.errors import ConfigError

log = logging.getLogger(__name__)
#: A check: None when fine, else why not (one line).
Check = Callable[[], str | None]


class Figures(Protocol):
    def collect(self) -> Iterable[Metric]: ...


@dataclass(frozen=True)
class Probes:
    """What a role serves: its figures, what keeps it alive, what it needs to be ready."""

    figures: Figures
    live: Mapping[str, Check] = field(default_factory=dict)
    ready: Mapping[str, Check] = field(default_factory=dict)


def verdict(checks: Mapping[str, Check]) -> tuple[int, dict[str, Any]]:
    """The status code and JSON body of a health answer."""
    results: dict[str, str | None] = {}
    for name, check in checks.items():
        try:
            results[name] = check()
        except Exception as error:  # a check that breaks says so instead of killing the server
            results[name] = f"{name}: check failed: {error!r}"
    failing = any(reason is not None for reason in results.values())
    return (503 if failing else 200), {"status": "failing" if failing else "ok", "checks": results}


def _handler(probes: Probes) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._answer(200, CONTENT_TYPE_LATEST, generate_latest(probes.figures))
            elif path in ("/healthz", "/readyz"):
                status, body = verdict(probes.live if path == "/healthz" else probes.ready)
                self._answer(status, "application/json", json.dumps(body).encode())
            else:
                self._answer(404, "application/json", b'{"status": "not found"}')

        def _answer(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug(format, *args)  # probes every few seconds: not for the INFO log

    return Handler


class MetricsServer:
    """The endpoints from a daemon thread; `stop()` closes the port."""

    def __init__(self, probes: Probes, *, host: str, port: int) -> None:
        try:
            self._server = ThreadingHTTPServer((host, port), _handler(probes))
        except OSError as error:
            raise ConfigError(
                "MAILPOLL_METRICS_PORT",
                f"cannot listen on {host or '*'}:{port}: {error.strerror or error}",
            ) from None
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="metrics", daemon=True
        )
        self._thread.start()
        log.info("metrics and health on port %d (/metrics, /healthz, /readyz)", self.port)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
