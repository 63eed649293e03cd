"""The OAuth2 device authorization grant (RFC 8628): consent for a machine with no browser.

mailpoll asks the provider for a device code, shows the person the verification URI and the
user code to enter there (on any device), then polls the token endpoint at the interval the
provider sets until the person approves, refuses, or the code runs out.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared import oauth
from shared.errors import AuthenticationError, ConnectError
from shared.mail.words import server_words

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
DEFAULT_INTERVAL = 5.0  # seconds between polls when the provider does not say (RFC 8628 3.2)
SLOW_DOWN_STEP = 5.0  # seconds added to the interval at each slow_down (RFC 8628 3.5)


@dataclass(frozen=True)
class DeviceCode:
    """What the provider handed out: the person needs the URI and the user code, never more."""

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_in: float
    interval: float


class DeviceFlow:
    """One device grant for one account's client configuration."""

    def __init__(
        self,
        config: dict[str, Any],
        client_secret: str | None,
        *,
        timeout: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._secret = client_secret
        self._timeout = timeout
        self._sleep = sleep
        self._monotonic = monotonic
        self._clock = clock

    def start(self) -> DeviceCode:
        """Ask the device authorization endpoint for a device code and a user code."""
        url = oauth.endpoint(self._config, "device_authorization_url")
        form = {"scope": oauth.scope_of(self._config) or ""}
        refused = "refused the device authorization"
        with self._session() as client, oauth.translated(url, self._timeout, refused=refused):
            auth = client.client_auth(client.token_endpoint_auth_method)
            answer = client.post(url, data=form, auth=auth, withhold_token=True)
            body = answer.json() if answer.content else {}
            if isinstance(body, dict) and "error" in body:
                raise _oauth_error(body)
            answer.raise_for_status()
        return _device_code(body, url)

    def wait(self, device: DeviceCode) -> oauth.TokenInstance:
        """Poll until the person approves (the token), refuses or lets the code run out."""
        url = oauth.endpoint(self._config, "token_url")
        interval = device.interval
        deadline = self._monotonic() + device.expires_in
        with self._session() as client:
            while True:
                self._sleep(interval)
                with oauth.translated(url, self._timeout, refused="refused the grant"):
                    answer = _poll(client, url, device)
                if isinstance(answer, dict):
                    scope = oauth.scope_of(self._config)
                    return oauth.instance_from(answer, clock=self._clock, scope_asked=scope)
                if answer == "slow_down":
                    interval += SLOW_DOWN_STEP
                if self._monotonic() >= deadline:
                    raise _finished("expired_token", None)

    def _session(self) -> Any:
        return oauth.session(self._config, self._secret, timeout=self._timeout)


def _poll(client: Any, url: str, device: DeviceCode) -> dict[str, Any] | str:
    """The token, or why there is none yet: authorization_pending or slow_down."""
    from authlib.integrations.base_client import OAuthError

    try:
        token: dict[str, Any] = client.fetch_token(
            url, grant_type=GRANT_TYPE, device_code=device.device_code
        )
    except OAuthError as error:
        if error.error in ("authorization_pending", "slow_down"):
            return str(error.error)
        if error.error in ("expired_token", "access_denied"):
            raise _finished(error.error, error.description) from None
        raise
    return token


def _finished(error: str, description: str | None) -> Exception:
    """How a device grant that will not succeed ends, in words for the person waiting."""
    if error == "expired_token":
        return AuthenticationError(
            "oauth2: the code expired before it was approved: run the command again"
        )
    if error == "access_denied":
        return AuthenticationError("oauth2: consent was refused at the provider (access_denied)")
    said = oauth.words(error, description)
    return AuthenticationError(f"oauth2: the provider refused the grant: {said}")


def _oauth_error(body: dict[str, Any]) -> Exception:
    from authlib.integrations.base_client import OAuthError

    error: Exception = OAuthError(str(body["error"]), str(body.get("error_description") or ""))
    return error


def _device_code(body: Any, url: str) -> DeviceCode:
    if not isinstance(body, dict):
        raise ConnectError(f"oauth2: {url} answered no JSON object")
    # Google spells it verification_url; RFC 8628 verification_uri.
    uri = body.get("verification_uri") or body.get("verification_url")
    given = (body.get("device_code"), body.get("user_code"), uri)
    if not all(isinstance(v, str) and v for v in given):
        raise ConnectError(f"oauth2: {url} gave no device_code, user_code and verification_uri")
    complete = body.get("verification_uri_complete")
    return DeviceCode(
        device_code=str(body["device_code"]),
        user_code=server_words(str(body["user_code"]), 40),
        verification_uri=server_words(str(uri)),
        verification_uri_complete=server_words(complete) if isinstance(complete, str) else None,
        expires_in=float(body.get("expires_in") or 600),
        interval=float(body.get("interval") or DEFAULT_INTERVAL),
    )
