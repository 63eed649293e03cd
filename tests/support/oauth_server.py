"""A stand-in OAuth2 provider: authorize (code + PKCE), token, device authorization, and
Dovecot's token introspection.

It checks what a real provider checks (client credentials, one use per code, the redirect URI,
the PKCE verifier, the device grant's interval) so the tests prove mailpoll's side of each.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.support.dovecot import DovecotServer

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@dataclass
class _Code:
    user: str
    redirect_uri: str
    challenge: str
    scope: str


@dataclass
class _Device:
    user_code: str
    scope: str
    expires_at: float
    decision: str = "pending"  # pending | approved | denied
    user: str = ""
    polls: list[tuple[float, str]] = field(default_factory=list)  # (when, what we answered)
    interval: float = 1.0


class OAuthServer:
    """Issues tokens for the grants it knows; says who a live access token is for.

    `consent` is what /authorize does: "approve" (as `consent_user`) or "deny". Device grants
    wait for `approve_device` or `deny_device`; `slow_down_next` answers the next polls with
    slow_down. `too_fast` counts device polls that came before the interval had passed.
    """

    def __init__(
        self,
        *,
        client_id: str = "mailpoll",
        client_secret: str | None = "client-s3cret",  # noqa: S107
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> user
        self.access_tokens: dict[str, tuple[str, float]] = {}  # token -> (user, expires at)
        self.lifetime = 3600.0
        self.grants = 0
        self.consent = "approve"
        self.consent_user = ""
        self.codes: dict[str, _Code] = {}
        self.devices: dict[str, _Device] = {}  # device code -> grant
        self.device_interval = 1.0
        self.slow_down_next = 0
        self.too_fast = 0
        self.refused: list[str] = []  # why each refused token request was refused
        self._lock = threading.Lock()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.port = self._http.server_address[1]
        base = f"http://127.0.0.1:{self.port}"
        self.token_url = f"{base}/token"
        self.authorize_url = f"{base}/authorize"
        self.device_authorization_url = f"{base}/device_authorization"
        self.introspection_url = f"{base}/introspect"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    def config(self, **extra: Any) -> dict[str, Any]:
        """A client_token_config for this provider."""
        config: dict[str, Any] = {
            "provider": "stand-in", "client_id": self.client_id, "token_url": self.token_url,
            "authorize_url": self.authorize_url, "scopes": ["mail", "openid"],
            "device_authorization_url": self.device_authorization_url,
        }  # fmt: skip
        if self.client_secret is not None:
            config["client_secret"] = self.client_secret
        return {**config, **extra}

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

    def device(self, user_code: str) -> _Device:
        return next(d for d in self.devices.values() if d.user_code == user_code)

    def approve_device(self, user_code: str, user: str) -> None:
        grant = self.device(user_code)
        grant.user, grant.decision = user, "approved"

    def deny_device(self, user_code: str) -> None:
        self.device(user_code).decision = "denied"

    # -- the endpoints -------------------------------------------------------------------------

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str]]:
        """The browser's visit: a redirect back to the client with a code or an error."""
        redirect = query.get("redirect_uri", "")
        if query.get("client_id") != self.client_id or not redirect:
            return 400, {}
        back = {"state": query.get("state", "")}
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            back.update(error="invalid_request", error_description="PKCE S256 is required")
        elif self.consent == "deny":
            back.update(error="access_denied", error_description="the user said no")
        else:
            code = secrets.token_urlsafe(12)
            self.codes[code] = _Code(
                self.consent_user, redirect, query["code_challenge"], query.get("scope", "")
            )
            back["code"] = code
        return 302, {"Location": f"{redirect}?{urlencode(back)}"}

    def answer(self, path: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if path == "/introspect":
            user, expires = self.access_tokens.get(form.get("token", ""), ("", 0.0))
            if not user or expires < time.time():
                return 200, {"active": False}
            return 200, {"active": True, "username": user}
        if not self._client_ok(form):
            return self._refuse(401, "invalid_client", "bad client credentials")
        if path == "/device_authorization":
            return self._device_authorization(form)
        if path == "/token":
            return self._grant(form)
        return 404, {"error": "not_found"}

    def _client_ok(self, form: dict[str, str]) -> bool:
        if form.get("client_id") != self.client_id:
            return False
        return self.client_secret is None or form.get("client_secret") == self.client_secret

    def _grant(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        grant = form.get("grant_type")
        if grant == "refresh_token":
            user = self.refresh_tokens.get(form.get("refresh_token", ""))
            if user is None:
                return self._refuse(400, "invalid_grant", "unknown refresh token")
            return self._tokens(user, "", with_refresh=False)
        if grant == "authorization_code":
            return self._code_grant(form)
        if grant == DEVICE_GRANT:
            return self._device_grant(form)
        return self._refuse(400, "unsupported_grant_type", str(grant))

    def _code_grant(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            code = self.codes.pop(form.get("code", ""), None)
        if code is None:
            return self._refuse(400, "invalid_grant", "unknown or used code")
        if form.get("redirect_uri") != code.redirect_uri:
            return self._refuse(400, "invalid_grant", "redirect_uri differs")
        verifier = form.get("code_verifier", "")
        digest = hashlib.sha256(verifier.encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != code.challenge:
            return self._refuse(400, "invalid_grant", "PKCE verification failed")
        return self._tokens(code.user, code.scope)

    def _device_authorization(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        device_code = secrets.token_urlsafe(16)
        user_code = "-".join(secrets.token_hex(2).upper() for _ in range(2))
        grant = _Device(user_code, form.get("scope", ""), time.time() + 120)
        grant.interval = self.device_interval
        self.devices[device_code] = grant
        verify = f"http://127.0.0.1:{self.port}/device"
        return 200, {
            "device_code": device_code, "user_code": user_code, "verification_uri": verify,
            "verification_uri_complete": f"{verify}?user_code={user_code}",
            "expires_in": 120, "interval": int(self.device_interval),
        }  # fmt: skip

    def _device_grant(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        grant = self.devices.get(form.get("device_code", ""))
        if grant is None:
            return self._refuse(400, "invalid_grant", "unknown device code")
        now = time.time()
        if grant.polls and now - grant.polls[-1][0] < grant.interval - 0.05:
            self.too_fast += 1
        answer = self._device_answer(grant, now)
        grant.polls.append((now, answer))
        if answer == "approved":
            del self.devices[form["device_code"]]
            return self._tokens(grant.user, grant.scope)
        return 400, {"error": answer}

    def _device_answer(self, grant: _Device, now: float) -> str:
        if now > grant.expires_at:
            return "expired_token"
        if grant.decision == "denied":
            return "access_denied"
        if self.slow_down_next > 0:
            self.slow_down_next -= 1
            grant.interval += 5  # what the client must now wait, as RFC 8628 says
            return "slow_down"
        return "approved" if grant.decision == "approved" else "authorization_pending"

    def _tokens(self, user: str, scope: str, *, with_refresh: bool = True) -> tuple[int, Any]:
        self.grants += 1
        token = secrets.token_urlsafe(24)
        self.access_tokens[token] = (user, time.time() + self.lifetime)
        body: dict[str, Any] = {
            "access_token": token, "token_type": "Bearer", "expires_in": int(self.lifetime),
        }  # fmt: skip
        if with_refresh:
            body["refresh_token"] = self.issue_refresh_token(user)
            body["scope"] = scope
            body["id_token"] = _unsigned_jwt({"sub": user, "email": f"{user}@example.com"})
        return 200, body

    def _refuse(self, status: int, error: str, why: str) -> tuple[int, dict[str, Any]]:
        self.refused.append(why)
        return status, {"error": error, "error_description": why}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != "/authorize":
                    self._send(404, b"", {})
                    return
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                status, headers = server.authorize(query)
                self._send(status, b"", headers)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                status, body = server.answer(self.path, form)
                headers = {"Content-Type": "application/json"}
                self._send(status, json.dumps(body).encode(), headers)

            def _send(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(payload))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *_args: Any) -> None:
                return

        return Handler


def _unsigned_jwt(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part(claims)}."


@contextmanager
def dovecot_checking(provider: OAuthServer) -> Iterator[DovecotServer]:
    """A Dovecot whose XOAUTH2 logins are checked with `provider` (fails the test if it
    cannot start)."""
    server = DovecotServer(oauth2_introspection_url=provider.introspection_url)
    try:
        server.start()
    except Exception as exc:
        tail = server.log_tail()
        server.cleanup()
        pytest.fail(f"Dovecot with OAuth2 cannot be started: {exc!r}\n{tail}", pytrace=False)
    try:
        yield server
    finally:
        server.cleanup()
