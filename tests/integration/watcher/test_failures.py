"""Push when things go wrong: a server restart, a server without IDLE, push switched off."""

from __future__ import annotations

import time

import pytest

from shared import redis_keys
from tests.integration.watcher.harness import Watching, connections, message, timing
from tests.support.dovecot import DovecotServer
from tests.support.processes import wait_until
from workers.poll import poll_account

pytestmark = pytest.mark.integration
HOUR = 3600


def test_a_dovecot_restart_is_survived_and_mail_that_came_meanwhile_is_announced(
    watching_own: Watching, own_dovecot: DovecotServer
) -> None:
    user = own_dovecot.new_user()
    account_id = _push_account(watching_own, user)
    with watching_own.running(timing(backoff_first=2.0)):
        wait_until(lambda: _mode(watching_own, account_id) == "idle", 15, "IDLE")
        wait_until(lambda: watching_own.requested != [], 15, "the first poll")
        own_dovecot.stop()
        wait_until(lambda: _mode(watching_own, account_id) == "connecting", 15, "the drop noticed")
        own_dovecot.start()
        # The watcher comes back 1-2 s later: this mail arrives while nobody watches.
        own_dovecot.append(user, message("while away"))
        wait_until(lambda: "while away" in watching_own.subjects(), 20, "the mail from meanwhile")
        wait_until(lambda: _mode(watching_own, account_id) == "idle", 15, "IDLE again")
        own_dovecot.append(user, message("after the restart"))
        wait_until(lambda: "after the restart" in watching_own.subjects(), 15, "pushed again")


def test_a_server_without_idle_falls_back_to_interval_polling_and_says_so(
    watching_no_idle: Watching, no_idle_dovecot: DovecotServer
) -> None:
    user = no_idle_dovecot.new_user()
    account_id = _push_account(watching_no_idle, user)
    with watching_no_idle.running():
        wait_until(lambda: _mode(watching_no_idle, account_id) == "interval", 15, "the fallback")
        found = watching_no_idle.mode(account_id)
        assert found is not None
        assert "does not offer IDLE" in found.describe()
        assert connections(no_idle_dovecot, [user])[user] == 0  # nothing held open for nothing
        row = watching_no_idle.status()[user]
        assert row["push"] == "interval"
        assert "does not offer IDLE" in row["push_detail"]
        # No IDLE, no safety net to stretch: the schedule polls at polling_interval.
        assert poll_account(account_id, watching_no_idle.pipeline.deps()).outcome == "polled"
        due = time.time() + 60
        watching_no_idle.redis.zadd(redis_keys.schedule(), {str(account_id): due})
        time.sleep(2)  # several rounds of the safety net (every 0.5 s here)
        assert watching_no_idle.redis.zscore(redis_keys.schedule(), str(account_id)) == due


def test_switching_push_off_or_disabling_the_account_stops_watching(
    watching: Watching, dovecot: DovecotServer
) -> None:
    watching.run_polls = False  # only the watcher's connections reach the server
    users = [dovecot.new_user(), dovecot.new_user()]
    ids = [_push_account(watching, user) for user in users]
    with watching.running() as watcher:
        wait_until(lambda: all(_mode(watching, i) == "idle" for i in ids), 15, "IDLE on both")
        assert connections(dovecot, users) == {users[0]: 1, users[1]: 1}
        watching.pipeline.update_account(users[0].replace(".", "_"), properties="idle=false")
        watching.pipeline.update_account(users[1].replace(".", "_"), enabled=False)
        wait_until(lambda: watcher.watched == [], 15, "both let go")
        wait_until(lambda: not connections(dovecot, users), 15, "logged out")
        assert [_mode(watching, i) for i in ids] == [None, None]
        watching.pipeline.update_account(users[0].replace(".", "_"), properties="idle=true")
        wait_until(lambda: watcher.watched == [ids[0]], 15, "watched again when switched on")


def _push_account(watching: Watching, user: str) -> int:
    account = watching.pipeline.add_account(
        user, "secret", polling_interval=HOUR, properties="idle=true"
    )
    assert account.id is not None
    return account.id


def _mode(watching: Watching, account_id: int) -> str | None:
    found = watching.mode(account_id)
    return None if found is None else found.mode
