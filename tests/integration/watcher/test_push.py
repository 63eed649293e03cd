"""Push against the real Dovecot: mail delivered while a watcher idles is announced at once."""

from __future__ import annotations

import json
import logging

import pytest

from shared import oauth, redis_keys
from shared.clock import as_utc
from shared.db.models import AccountStatus
from tests.integration.watcher.harness import Watching, message, timing
from tests.support.dovecot import DovecotServer
from tests.support.oauth_server import OAuthServer
from tests.support.processes import wait_until

pytestmark = pytest.mark.integration
HOUR = 3600  # the interval: nothing in these tests waits for it


def test_mail_delivered_while_idle_is_announced_without_waiting_for_the_interval(
    watching: Watching, dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, password = mailbox_user
    account = watching.pipeline.add_account(
        user, password, polling_interval=HOUR, properties="idle=true"
    )
    assert account.id is not None
    with watching.running():
        wait_until(lambda: _mode(watching, account.id) == "idle", 15, "IDLE on the account")
        assert watching.status()[user]["push"] == "idle"
        dovecot.append(user, message("first push"))
        wait_until(lambda: "first push" in watching.subjects(), 15, "the pushed mail's event")
        dovecot.append(user, message("second push"))
        wait_until(lambda: "second push" in watching.subjects(), 15, "the second event")
    assert watching.subjects().count("first push") == 1
    assert watching.status()[user]["push"] == "unwatched"  # the watcher has stopped


def test_idle_is_issued_again_and_the_debug_trace_hides_the_password(
    watching: Watching,
    dovecot: DovecotServer,
    mailbox_user: tuple[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    user, _ = mailbox_user
    account = watching.pipeline.add_account(
        user, "pw-not-in-logs", polling_interval=HOUR, properties="idle=true", debug=True
    )
    dovecot.add_user(user, "pw-not-in-logs")
    assert account.id is not None
    caplog.set_level(logging.DEBUG, logger="mailpoll.wire")
    with watching.running(timing(reidle_seconds=0.5)):
        wait_until(lambda: _sent(caplog, "DONE") >= 3, 15, "IDLE ended and begun again")
        dovecot.append(user, message("after re-idle"))
        wait_until(lambda: "after re-idle" in watching.subjects(), 15, "the event")
    assert "LOGIN **REDACTED**" in caplog.text
    assert "pw-not-in-logs" not in caplog.text


def _sent(caplog: pytest.LogCaptureFixture, command: str) -> int:
    wire = [r.getMessage() for r in caplog.records if r.name == "mailpoll.wire"]
    return sum(1 for line in wire if f"C: {command}" in line)


def _mode(watching: Watching, account_id: int | None) -> str | None:
    assert account_id is not None
    found = watching.mode(account_id)
    return None if found is None else found.mode


def test_an_oauth2_account_is_watched_with_a_token_refreshed_when_refused(
    watching_oauth: Watching, oauth_dovecot: DovecotServer, provider: OAuthServer
) -> None:
    user = oauth_dovecot.new_user()
    config = {
        "client_id": provider.client_id, "client_secret": provider.client_secret,
        "token_url": provider.token_url,
    }  # fmt: skip
    account = watching_oauth.pipeline.add_account(
        user, None, auth_type="oauth2", client_token_config=json.dumps(config),
        polling_interval=HOUR, properties="idle=true",
    )  # fmt: skip
    assert account.id is not None
    pipeline = watching_oauth.pipeline
    pipeline.credentials.refresh(
        account, oauth.TokenInstance(refresh_token=provider.issue_refresh_token(user))
    )
    grants = provider.grants
    provider.access_tokens.clear()  # the stored access token was revoked before it ran out
    with watching_oauth.running():
        wait_until(lambda: _mode(watching_oauth, account.id) == "idle", 15, "IDLE via XOAUTH2")
        assert provider.grants > grants  # refused once, refreshed, logged in
        oauth_dovecot.append(user, message("oauth push"))
        wait_until(lambda: "oauth push" in watching_oauth.subjects(), 15, "the event")


def test_while_idle_works_the_interval_poll_moves_out_to_idle_poll_interval(
    watching: Watching, dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, password = mailbox_user
    account = watching.pipeline.add_account(
        user, password, polling_interval=60, properties="idle=true\nidle_poll_interval=1800"
    )
    assert account.id is not None
    with watching.running():
        wait_until(lambda: _last_poll(watching, account.id) is not None, 15, "the first poll")
        # The scheduler's entry: due one polling_interval after that poll.
        last = _last_poll(watching, account.id)
        assert last is not None
        watching.redis.zadd(redis_keys.schedule(), {str(account.id): last + 60})
        wait_until(
            lambda: watching.redis.zscore(redis_keys.schedule(), str(account.id)) == last + 1800,
            15,
            "the next interval poll moved to idle_poll_interval after the last poll",
        )


def _last_poll(watching: Watching, account_id: int | None) -> float | None:
    with watching.pipeline.database.session() as session:
        status = session.get(AccountStatus, account_id)
    moment = None if status is None else as_utc(status.last_poll_at)
    return None if moment is None else moment.timestamp()
