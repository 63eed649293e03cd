"""OAuth2 token handling that needs no provider: encoding, expiry, unreachable endpoints."""

from __future__ import annotations

import base64
import socket

import pytest

from shared import oauth
from shared.errors import ConfigError, ConnectError


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
