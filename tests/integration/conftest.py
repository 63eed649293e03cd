"""Fixtures of integration tests in several folders: the stand-in OAuth2 provider, a Dovecot
that checks XOAUTH2 logins with it, and a RabbitMQ vhost."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.dovecot import DovecotServer
from tests.support.oauth_server import OAuthServer, dovecot_checking
from tests.support.rabbitmq import RabbitMQ


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


@pytest.fixture(scope="module")
def rabbitmq() -> Iterator[RabbitMQ]:
    """A vhost of the module's own on the local RabbitMQ, else on a throwaway node."""
    server = RabbitMQ()
    try:
        server.start()
    except Exception as exc:
        tail = server.log_tail()
        server.cleanup()
        pytest.fail(f"RabbitMQ cannot be started: {exc!r}\n{tail}", pytrace=False)
    yield server
    server.cleanup()
