"""OAuth2 accounts (XOAUTH2) against a Dovecot that checks tokens with a stand-in provider."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mailpoll.cli.main import main
from shared import oauth
from shared.db.models import Account
from tests.support import corpus
from tests.support.dovecot import DovecotServer
from tests.support.oauth_server import OAuthServer
from tests.support.pipeline import Pipeline, running_pipeline

pytestmark = pytest.mark.integration


@pytest.fixture
def pipeline(oauth_dovecot: DovecotServer, redis_url: str, tmp_path: Path) -> Iterator[Pipeline]:
    with running_pipeline(oauth_dovecot, redis_url, tmp_path) as running:
        yield running


def oauth_account(pipeline: Pipeline, provider: OAuthServer, user: str, **fields: Any) -> Account:
    config = {
        "client_id": provider.client_id, "client_secret": provider.client_secret,
        "token_url": provider.token_url,
    }  # fmt: skip
    return pipeline.add_account(
        user, None, auth_type="oauth2", client_token_config=json.dumps(config), **fields
    )


def authenticate(pipeline: Pipeline, account: Account, refresh_token: str) -> None:
    pipeline.credentials.refresh(account, oauth.TokenInstance(refresh_token=refresh_token))


def test_an_oauth2_account_polls_with_access_tokens_refreshed_when_due(
    pipeline: Pipeline, oauth_dovecot: DovecotServer, provider: OAuthServer
) -> None:
    user = oauth_dovecot.new_user()
    oauth_dovecot.append(user, corpus.plain("via xoauth2"))
    account = oauth_account(pipeline, provider, user, name="oauthuser")
    assert pipeline.poll(account).error == (
        "oauthuser: oauth2: no token yet: authenticate it (the console's Authenticate, or "
        "`mailpoll accounts authenticate oauthuser --device`)"
    )
    grants = provider.grants
    authenticate(pipeline, account, provider.issue_refresh_token(user))

    assert pipeline.poll(account).tally.announced == 1
    assert pipeline.poll(account).outcome == "polled"
    assert provider.grants == grants + 1  # the access token was reused
    with pipeline.database.session() as session:
        stored = session.get(Account, account.id)
        assert stored is not None
        assert stored.oauth_status is not None
        assert stored.oauth_status.startswith("authenticated; access token valid until")
        token = stored.client_token_instance_encrypted or ""
    assert "refresh_token" not in token  # encrypted at rest

    provider.access_tokens.clear()  # revoked before it ran out: the provider says inactive
    oauth_dovecot.append(user, corpus.plain("after revocation"))
    assert pipeline.poll(account).tally.announced == 1  # refreshed once, logged in again
    assert provider.grants == grants + 2


def test_a_revoked_refresh_token_is_an_authentication_failure_with_a_status(
    pipeline: Pipeline, oauth_dovecot: DovecotServer, provider: OAuthServer
) -> None:
    user = oauth_dovecot.new_user()
    account = oauth_account(pipeline, provider, user, protocol="pop3", port=oauth_dovecot.pop3_port)
    token = provider.issue_refresh_token(user)
    authenticate(pipeline, account, token)
    assert pipeline.poll(account).outcome == "polled"  # POP3 AUTH XOAUTH2

    del provider.refresh_tokens[token]
    with pipeline.database.session() as session:
        stored = session.get(Account, account.id)
        assert stored is not None
        stored.client_token_instance_encrypted = pipeline.box.encrypt(
            oauth.TokenInstance(refresh_token=token).to_json()
        )
    result = pipeline.poll(account)

    assert result.outcome == "failed"
    assert "invalid_grant" in (result.error or "")
    with pipeline.database.session() as session:
        stored = session.get(Account, account.id)
        assert stored is not None
        assert (stored.oauth_status or "").startswith("refresh refused")


def test_mailpoll_accounts_authenticate(
    provider: OAuthServer,
    oauth_dovecot: DovecotServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import io

    for name in ("DATABASE_URL", "SECRET_KEY", "REDIS_URL"):
        monkeypatch.delenv(f"MAILPOLL_{name}", raising=False)
    monkeypatch.setenv("MAILPOLL_DATA_DIR", str(tmp_path / "data"))
    user = oauth_dovecot.new_user()
    config = json.dumps(
        {"client_id": provider.client_id, "client_secret": provider.client_secret,
         "token_url": provider.token_url}
    )  # fmt: skip
    add = ["accounts", "add", "o", "--type", "inbound", "--host", "127.0.0.1", "--encryption",
           "none", "--port", str(oauth_dovecot.imap_port), "--auth-type", "oauth2",
           "--login", user, "--client-token-config", config]  # fmt: skip
    assert main(add) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("not-a-known-token\n"))
    assert main(["accounts", "authenticate", "o", "--refresh-token-stdin"]) == 1
    assert "invalid_grant" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO(provider.issue_refresh_token(user) + "\n"))
    assert main(["accounts", "authenticate", "o", "--refresh-token-stdin"]) == 0
    shown = capsys.readouterr()
    assert shown.out.startswith("authenticated: o")
    assert main(["accounts", "test", "o"]) == 0
    assert "login           ok" in capsys.readouterr().out
    assert main(["accounts", "show", "o", "--json"]) == 0
    view = json.loads(capsys.readouterr().out)
    assert view["client_secret"] == "(set)"
    assert provider.client_secret not in json.dumps(view)
    assert view["oauth_status"].startswith("authenticated; access token valid until")
