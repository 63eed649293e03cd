"""`mailpoll watcher` as real processes: push end to end, and a killed watcher's takeover."""

from __future__ import annotations

import re
import signal
import subprocess
from pathlib import Path

import pytest
import redis

from shared.watch_leases import modes
from tests.integration.watcher.harness import message
from tests.support.cluster import Cluster
from tests.support.dovecot import DovecotServer
from tests.support.processes import MAILPOLL, MailpollProcess, environment, wait_until

pytestmark = pytest.mark.integration
ACCOUNTS = 8


def test_a_killed_watchers_accounts_move_to_another_and_push_goes_on(
    cluster: Cluster, dovecot: DovecotServer, redis_url: str
) -> None:
    users = [dovecot.new_user() for _ in range(ACCOUNTS)]
    for user in users:
        cluster.add_account(dovecot, user, "secret", polling_interval=3600, properties="idle=true")
    ids = _account_ids(cluster)
    watchers = [cluster.start("watcher", "--lease-seconds", "2") for _ in range(2)]
    cluster.start("worker", "--threads", "2")
    client = redis.Redis.from_url(redis_url)
    try:
        wait_until(lambda: _holders(client, ids, "idle") is not None, 30, "IDLE on every account")
        held = _holders(client, ids, "idle") or {}
        victim = next(w for w in watchers if any(_pid_of(h) == _pid(w) for h in held.values()))
        survivor = next(w for w in watchers if w is not victim)
        moved = [users[i] for i, account_id in enumerate(ids)
                 if _pid_of(held[account_id]) == _pid(victim)]  # fmt: skip
        victim.kill()
        wait_until(
            lambda: (
                {_pid_of(h) for h in (_holders(client, ids, "idle") or {"": ""}).values()}
                == {_pid(survivor)}
            ),
            30,
            "the survivor holding every account",
        )
        dovecot.append(moved[0], message("after the takeover"))
        wait_until(lambda: _subjects(cluster).count("after the takeover") == 1, 30, "the event")
    finally:
        client.close()


def test_mailpoll_run_includes_the_watcher(tmp_path: Path, dovecot: DovecotServer) -> None:
    user = dovecot.new_user()
    env = environment(data_dir=str(tmp_path / "data"), log_level="INFO")
    subprocess.run(
        [*MAILPOLL, "accounts", "add", "box", "--type", "inbound", "--host", dovecot.host,
         "--encryption", "none", "--port", str(dovecot.imap_port), "--login", user,
         "--password-stdin", "--polling-interval", "3600", "--property", "idle=true"],
        env=env, input="secret\n", text=True, check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    out, err = tmp_path / "run.out", tmp_path / "run.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        run = subprocess.Popen(
            [*MAILPOLL, "run", "--no-web"], env=env, stdout=stdout, stderr=stderr,
            start_new_session=True,
        )  # fmt: skip
    try:
        wait_until(lambda: "with IDLE" in err.read_text(), 30, "the watcher in mailpoll run")
        dovecot.append(user, message("pushed to run"))
        wait_until(lambda: "pushed to run" in out.read_text(), 30, "the line for the mail")
        run.send_signal(signal.SIGTERM)
        assert run.wait(30) == 0
    finally:
        if run.poll() is None:
            run.kill()
            run.wait(10)


def _account_ids(cluster: Cluster) -> list[int]:
    with cluster.database.engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT id FROM email_accounts ORDER BY id")
        return [int(row[0]) for row in rows]


def _holders(client: redis.Redis, ids: list[int], mode: str) -> dict[int, str] | None:
    """Account id -> watcher id when every account is watched in `mode`, else None."""
    found = modes(client, ids)
    if set(found) != set(ids) or any(m.mode != mode for m in found.values()):
        return None
    return {i: m.watcher for i, m in found.items()}


def _pid(process: MailpollProcess) -> str:
    assert process.process is not None
    return str(process.process.pid)


def _pid_of(watcher_id: str) -> str:
    """Watcher ids are host-pid-random."""
    match = re.search(r"-(\d+)-[0-9a-f]+$", watcher_id)
    return match[1] if match else ""


def _subjects(cluster: Cluster) -> list[str]:
    return [str(event["data"]["subject"]) for event in list(cluster.events)]
