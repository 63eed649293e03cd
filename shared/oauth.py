"""OAuth2 for mail logins (XOAUTH2): the token an account holds, and talking to its provider.

The administrator authenticates once (browser consent, the device flow, or a refresh token
given by hand), which stores a refresh token encrypted with the account; every connection then
uses a short-lived access token, refreshed at the provider's token endpoint when it is about to
run out. The protocol is authlib's OAuth2 client; this module adds the account's configuration,
the one error tree, and what is kept of a token response.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared.errors import AuthenticationError, ConfigError, ConnectError, ServerTimeoutError
from shared.mail.words import server_words

if TYPE_CHECKING:
    from authlib.integrations.requests_client import OAuth2Session

REFRESH_MARGIN = 60.0  # seconds: refresh a token this long before it runs out
DEFAULT_LIFETIME = 3600.0  # seconds, when the provider does not say (expires_in)
# Errors a token endpoint gives when it is the provider's fault, not the grant's: retry later.
_TRANSIENT = frozenset({"server_error", "temporarily_unavailable"})
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")


@dataclass(frozen=True)
class TokenInstance:
    """What an account holds (encrypted at rest): the refresh token, the current access token,
    and for display whom the provider issued it to and for which scopes."""

    refresh_token: str
    access_token: str | None = None
    expires_at: float | None = None  # Unix seconds
    who: str | None = None  # from the OpenID Connect id_token, when the provider sent one
    scope: str | None = None  # space-separated, as OAuth2 spells it

    def usable(self, now: float) -> bool:
        return bool(self.access_token) and (self.expires_at or 0) - REFRESH_MARGIN > now

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> TokenInstance:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in json.loads(text).items() if k in known})

    def describe(self) -> dict[str, Any]:
        """Who, scopes and expiry, for `accounts show` and the API: never a token."""
        return {
            "who": self.who,
            "scopes": (self.scope or "").split(),
            "expires_at": _stamp(self.expires_at) if self.expires_at else None,
        }


def status_of(instance: TokenInstance) -> str:
    """The account's `oauth_status` after a token was granted or refreshed."""
    until = datetime.fromtimestamp(instance.expires_at or 0, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return f"authenticated; access token valid until {until}"


def endpoint(config: Mapping[str, Any], key: str) -> str:
    """The configuration's URL `key`, checked: a missing or non-http(s) URL is a config error."""
    url = config.get(key)
    if not isinstance(url, str) or not url:
        raise ConfigError("client_token_config", f"{key!r} is required for this")
    if not url.startswith(("https://", "http://")):
        raise ConfigError("client_token_config", f"{key} {url!r} is not an http(s) URL")
    return url


def scope_of(config: Mapping[str, Any]) -> str | None:
    scopes = config.get("scopes")
    if not scopes:
        return None
    return scopes if isinstance(scopes, str) else " ".join(str(s) for s in scopes)


def session(
    config: Mapping[str, Any],
    client_secret: str | None,
    *,
    timeout: float,
    redirect_uri: str | None = None,
) -> OAuth2Session:
    """authlib's client for the account's provider: the secret (if any) goes in the form
    (client_secret_post), as providers accept it; a public client sends its id alone."""
    from authlib.integrations.requests_client import OAuth2Session

    return OAuth2Session(
        client_id=str(config["client_id"]),
        client_secret=client_secret,
        token_endpoint_auth_method="client_secret_post" if client_secret else "none",
        scope=scope_of(config),
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        default_timeout=timeout,
    )


@contextmanager
def translated(url: str, timeout: float, *, refused: str = "refused the token") -> Iterator[None]:
    """authlib's and requests' errors as mailpoll's: a refusal is permanent, the rest are not."""
    import requests
    from authlib.integrations.base_client import OAuthError

    try:
        yield
    except OAuthError as error:
        said = words(error.error, error.description)
        if error.error in _TRANSIENT:
            raise ConnectError(f"oauth2: the provider is unavailable: {said}") from None
        raise AuthenticationError(f"oauth2: the provider {refused}: {said}") from None
    except requests.Timeout:
        raise ServerTimeoutError(f"oauth2: no answer from {url} within {timeout}s") from None
    except requests.HTTPError as error:
        code = error.response.status_code if error.response is not None else 0
        if code in (400, 401):
            raise AuthenticationError(f"oauth2: the provider {refused} (HTTP {code})") from None
        raise ConnectError(f"oauth2: {url} answered HTTP {code}") from None
    except (requests.RequestException, ValueError) as error:
        raise ConnectError(f"oauth2: cannot reach {url}: {_reason(error)}") from None


def words(error: Any, description: Any = None) -> str:
    """A provider's error code and description, as one line fit to show."""
    return server_words(f"{error}: {description}" if description else str(error))


def instance_from(
    token: Mapping[str, Any],
    *,
    clock: Callable[[], float] = time.time,
    previous: TokenInstance | None = None,
    scope_asked: str | None = None,
) -> TokenInstance:
    """What to keep of a token response; a refresh keeps what the provider did not resend."""
    access = token.get("access_token")
    if not isinstance(access, str) or not access:
        raise AuthenticationError("oauth2: the token endpoint gave no access_token")
    refresh = token.get("refresh_token") or (previous.refresh_token if previous else None)
    if not isinstance(refresh, str) or not refresh:
        raise AuthenticationError(
            "oauth2: the provider gave no refresh token: ask for offline access (Microsoft: "
            "the offline_access scope; Google: the consent screen grants it to installed apps)"
        )
    lifetime = float(token.get("expires_in") or DEFAULT_LIFETIME)
    scope = token.get("scope") or (previous.scope if previous else None) or scope_asked
    return TokenInstance(
        refresh_token=refresh,
        access_token=access,
        expires_at=clock() + lifetime,
        who=_who(token.get("id_token")) or (previous.who if previous else None),
        scope=scope if isinstance(scope, str) else None,
    )


def refresh(
    config: dict[str, Any],
    client_secret: str | None,
    instance: TokenInstance,
    *,
    timeout: float = 10.0,
    clock: Callable[[], float] = time.time,
) -> TokenInstance:
    """A new access token from the token endpoint (grant_type=refresh_token)."""
    url = endpoint(config, "token_url")
    with session(config, client_secret, timeout=timeout) as client, translated(url, timeout):
        token = client.refresh_token(url, refresh_token=instance.refresh_token)
    return instance_from(token, clock=clock, previous=instance)


def xoauth2(login: str, access_token: str) -> str:
    """The SASL XOAUTH2 initial response, base64-encoded (POP3, SMTP)."""
    raw = f"user={login}\x01auth=Bearer {access_token}\x01\x01"
    return base64.b64encode(raw.encode()).decode()


def _who(id_token: Any) -> str | None:
    """The user an OpenID Connect id_token names, for display only.

    It came straight from the token endpoint over the connection we opened, where OpenID
    Connect lets TLS stand in for checking the signature; nothing is authorized by it.
    """
    if not isinstance(id_token, str) or id_token.count(".") != 2:
        return None
    payload = id_token.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, binascii.Error):
        return None
    if not isinstance(claims, dict):
        return None
    for claim in ("email", "preferred_username", "upn", "sub"):
        if isinstance(claims.get(claim), str) and claims[claim]:
            return server_words(claims[claim], 100)
    return None


def _reason(error: Exception) -> str:
    """The OS's words inside requests' long messages ("connection refused"), else the type."""
    found = _ERRNO.search(str(error))
    return found[1].strip() if found else server_words(str(error), 120) or type(error).__name__


def _stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
