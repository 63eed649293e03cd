"""OAuth2 for mail logins (XOAUTH2): the token an account holds, and refreshing it.

The administrator authenticates once (`mailpoll accounts authenticate`), which stores a refresh
token encrypted with the account; every connection then uses a short-lived access token,
refreshed at the provider's token endpoint when it is about to expire.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass
from typing import Any

from shared.errors import AuthenticationError, ConfigError, ConnectError, ServerTimeoutError

REFRESH_MARGIN = 60.0  # seconds: refresh a token this long before it runs out


@dataclass(frozen=True)
class TokenInstance:
    """What an account holds (encrypted at rest): the refresh token and the current access token."""

    refresh_token: str
    access_token: str | None = None
    expires_at: float | None = None  # Unix seconds

    def usable(self, now: float) -> bool:
        return bool(self.access_token) and (self.expires_at or 0) - REFRESH_MARGIN > now

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> TokenInstance:
        return cls(**json.loads(text))


def refresh(
    config: dict[str, Any],
    client_secret: str | None,
    instance: TokenInstance,
    *,
    timeout: float = 10.0,
) -> TokenInstance:
    """A new access token from the token endpoint (grant_type=refresh_token)."""
    form = {
        "grant_type": "refresh_token",
        "refresh_token": instance.refresh_token,
        "client_id": config["client_id"],
    }
    if client_secret:
        form["client_secret"] = client_secret
    if config.get("scopes"):
        scopes = config["scopes"]
        form["scope"] = scopes if isinstance(scopes, str) else " ".join(scopes)
    url = str(config["token_url"])
    if not url.startswith(("https://", "http://")):
        raise ConfigError("client_token_config", f"token_url {url!r} is not an http(s) URL")
    request = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode())  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            body = json.load(answer)
    except urllib.error.HTTPError as error:
        reason = _error_text(error)
        if error.code in (400, 401):
            raise AuthenticationError(f"oauth2: the provider refused the token: {reason}") from None
        raise ConnectError(f"oauth2: token endpoint answered {error.code}: {reason}") from None
    except TimeoutError:
        raise ServerTimeoutError(f"oauth2: no answer from {url} within {timeout}s") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise ConnectError(f"oauth2: cannot reach {url}: {error}") from None
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        raise AuthenticationError("oauth2: the token endpoint gave no access_token")
    lifetime = float(body.get("expires_in") or 3600)
    return TokenInstance(
        refresh_token=str(body.get("refresh_token") or instance.refresh_token),
        access_token=token,
        expires_at=time.time() + lifetime,
    )


def xoauth2(login: str, access_token: str) -> str:
    """The SASL XOAUTH2 initial response, base64-encoded (POP3, SMTP)."""
    raw = f"user={login}\x01auth=Bearer {access_token}\x01\x01"
    return base64.b64encode(raw.encode()).decode()


def _error_text(error: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(error.read() or b"{}")
    except ValueError:
        return str(error.reason)
    return " ".join(str(body.get(k, "")) for k in ("error", "error_description")).strip() or str(
        error.reason
    )
