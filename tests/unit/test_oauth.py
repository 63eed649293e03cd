"""OAuth2 token handling that needs no provider: encoding, expiry, unreachable endpoints."""

from __future__ import annotations

import base64
import json
import socket
from typing import Any

import pytest

from shared import oauth
from shared.accounts import rules
from shared.errors import AuthenticationError, ConfigError, ConnectError


def test_the_xoauth2_response_is_what_the_servers_expect() -> None:
    decoded = base64.b64decode(oauth.xoauth2("a@example.com", "tok")).decode()
    assert decoded == "user=a@example.com\x01auth=Bearer tok\x01\x01"


def test_a_token_is_refreshed_a_minute_before_it_runs_out() -> None:
    token = oauth.TokenInstance("refresh", "access", expires_at=1000.0)
    assert token.usable(1000.0 - oauth.REFRESH_MARGIN - 1)
    assert not token.usable(1000.0 - oauth.REFRESH_MARGIN + 1)
    assert not oauth.TokenInstance("refresh").usable(0)
    assert oauth.TokenInstance.from_json(token.to_json()) == token


def test_an_unreachable_token_endpoint_is_a_connect_error() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
    config = {"client_id": "c", "token_url": f"http://127.0.0.1:{port}/token"}
    with pytest.raises(ConnectError, match="cannot reach"):
        oauth.refresh(config, None, oauth.TokenInstance("r"), timeout=2)


def test_a_token_url_that_is_not_http_is_a_configuration_error() -> None:
    config = {"client_id": "c", "token_url": "file:///etc/passwd"}
    with pytest.raises(ConfigError, match="not an http"):
        oauth.refresh(config, None, oauth.TokenInstance("r"))


def test_a_token_stored_before_who_and_scope_were_kept_still_reads() -> None:
    old = '{"refresh_token": "r", "access_token": "a", "expires_at": 5.0}'
    assert oauth.TokenInstance.from_json(old) == oauth.TokenInstance("r", "a", 5.0)


def test_what_is_shown_of_a_token_names_the_user_and_scopes_but_no_token() -> None:
    payload = base64.urlsafe_b64encode(b'{"sub": "1", "email": "a@example.com"}').decode()
    token = {
        "access_token": "A",
        "refresh_token": "R",
        "id_token": f"e30.{payload}.",
        "scope": "x y",
    }
    shown = oauth.instance_from(token, clock=lambda: 0.0).describe()
    assert shown == {
        "who": "a@example.com",
        "scopes": ["x", "y"],
        "expires_at": "1970-01-01T01:00:00Z",
    }


def test_a_grant_without_a_refresh_token_says_to_ask_for_offline_access() -> None:
    with pytest.raises(AuthenticationError, match="offline access"):
        oauth.instance_from({"access_token": "A"})


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        (
            {"device_authorization_url": "ftp://x"},
            "'device_authorization_url' must be an http(s) URL",
        ),
        ({"redirect_uri": "https://x/ y"}, "'redirect_uri' must be an http(s) URL"),
        ({"scopes": [1]}, "'scopes' must be a string or a list of strings"),
    ],
)
def test_the_client_token_config_checks_its_urls_and_scopes(
    extra: dict[str, Any], reason: str
) -> None:
    config = {"client_id": "c", "token_url": "https://t", **extra}
    with pytest.raises(ConfigError) as refused:
        rules.check_token_config(json.dumps(config))
    assert refused.value.message == reason
