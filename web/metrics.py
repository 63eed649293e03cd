"""Prometheus metrics of the web process, requests and their latency by route and status, and
the access log: one line a request, its path without the query string (where an OAuth2
callback carries its code).

Labels are bounded: the route's template (`/api/accounts/{name}`, never the name itself),
the method among the few HTTP has, and the status code. A registry per app keeps apps made
in one process (tests) apart.
"""

from __future__ import annotations

import logging
import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "(unmatched)"
access_log = logging.getLogger("web.access")


class WebMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "mailpoll_http_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "mailpoll_http_request_duration_seconds",
            "Time from request to the end of the answer, by method and route template",
            ["method", "route"],
            registry=self.registry,
        )


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: WebMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers if the app fails before it answers

        async def send_and_watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        finally:
            route = getattr(scope.get("route"), "path", UNMATCHED)
            method = scope["method"] if scope["method"] in METHODS else "OTHER"
            self.metrics.requests.labels(method, route, str(status)).inc()
            seconds = time.perf_counter() - started
            self.metrics.latency.labels(method, route).observe(seconds)
            client = scope.get("client") or ("-", 0)
            path = repr(str(scope.get("path", "")))[1:-1]  # a line break in a path stays visible
            access_log.info("%s %s %s %d %.1f ms", client[0], method, path, status, seconds * 1000)
