"""A stand-in OAuth2 provider: a token endpoint (refresh grant) and Dovecot's introspection."""

from __future__ import annotations

import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


class OAuthServer:
    """Issues access tokens for refresh tokens it knows; says who a live access token is for."""

    def __init__(
        self,
        *,
        client_id: str = "mailpoll",
        client_secret: str = "client-s3cret",  # noqa: S107
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> user
        self.access_tokens: dict[str, tuple[str, float]] = {}  # token -> (user, expires at)
        self.lifetime = 3600.0
        self.grants = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                status, body = server.answer(self.path, form)
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *_args: Any) -> None:
                return

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._http.server_address[1]
        self.token_url = f"http://127.0.0.1:{self.port}/token"
        self.introspection_url = f"http://127.0.0.1:{self.port}/introspect"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    def start(self) -> OAuthServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(5)

    def issue_refresh_token(self, user: str) -> str:
        token = secrets.token_urlsafe(16)
        self.refresh_tokens[token] = user
        return token

    def answer(self, path: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if path == "/token":
            return self._grant(form)
        if path == "/introspect":
            user, expires = self.access_tokens.get(form.get("token", ""), ("", 0.0))
            if not user or expires < time.time():
                return 200, {"active": False}
            return 200, {"active": True, "username": user}
        return 404, {"error": "not_found"}

    def _grant(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if (form.get("client_id"), form.get("client_secret")) != (
            self.client_id,
            self.client_secret,
        ):
            return 401, {"error": "invalid_client"}
        user = self.refresh_tokens.get(form.get("refresh_token", ""))
        if form.get("grant_type") != "refresh_token" or user is None:
            return 400, {"error": "invalid_grant", "error_description": "unknown refresh token"}
        self.grants += 1
        token = secrets.token_urlsafe(24)
        self.access_tokens[token] = (user, time.time() + self.lifetime)
        return 200, {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": int(self.lifetime),
        }
