"""Headers every response carries: a content security policy that allows nothing from
elsewhere and no framing, no MIME sniffing, no referrer, and no caching of API answers.

Plain ASGI (not BaseHTTPMiddleware), so streamed answers (server-sent events) pass through
as they are written.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
# The interactive API documentation (Swagger UI, served from the package) sets inline styles
# and shows data: images: allowed there, and only there. Scripts stay 'self' everywhere.
DOCS_CSP = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_ALWAYS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, docs_path: str) -> None:
        self.app = app
        self.docs_path = docs_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        csp = DOCS_CSP if path == self.docs_path else CSP
        extra = [*_ALWAYS, (b"content-security-policy", csp.encode())]
        if path.startswith(("/api/", "/oauth/")):
            extra.append((b"cache-control", b"no-store"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                added = [(name, value) for name, value in extra if name not in names]
                message["headers"] = [*message.get("headers", []), *added]
            await send(message)

        await self.app(scope, receive, send_with_headers)
