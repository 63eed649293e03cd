"""Fixtures of integration tests in several folders: the stand-in OAuth2 provider and a Dovecot
that checks XOAUTH2 logins with it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.dovecot import DovecotServer
from tests.support.oauth_server import OAuthServer, dovecot_checking


@pytest.fixture(scope="module")
def provider() -> Iterator[OAuthServer]:
    """The stand-in OAuth2 provider."""
    server = OAuthServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def oauth_dovecot(provider: OAuthServer) -> Iterator[DovecotServer]:
    """A Dovecot whose XOAUTH2 logins the stand-in provider checks."""
    with dovecot_checking(provider) as server:
        yield server
