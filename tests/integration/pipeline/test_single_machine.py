"""One data dir on one machine (embedded Redis): one poller per account, whatever runs beside.

`mailpoll run` started twice, or `mailpoll poll NAME` beside it: each process has its own
embedded Redis, so the data dir's lock files are what keeps them from polling one account twice.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from shared.db.database import Database
from tests.support import corpus
from tests.support.dovecot import DovecotServer
from tests.support.processes import MAILPOLL, MailpollProcess, environment, wait_until
from tests.support.smtp_server import SmtpServer

pytestmark = pytest.mark.integration
ANNOUNCED = re.compile(r"workers\.poll: box: (\d+) announced")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return environment(data_dir=str(tmp_path / "data"), log_level="INFO")


def mailpoll(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MAILPOLL, *args], env=env, input=stdin, capture_output=True, text=True, timeout=60,
        cwd=Path(__file__).parents[3],
    )  # fmt: skip


def add_inbound(env: dict[str, str], dovecot: DovecotServer, user: str, password: str) -> None:
    added = mailpoll(
        env, "accounts", "add", "box", "--type", "inbound", "--host", dovecot.host,
        "--encryption", "none", "--port", str(dovecot.imap_port), "--login", user,
        "--password-stdin", "--max-batch", "10", "--polling-interval", "1",
        stdin=password + "\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr


@pytest.fixture
def running(env: dict[str, str], tmp_path: Path) -> Iterator[MailpollProcess]:
    process = MailpollProcess(["run", "--quiet"], env, tmp_path / "run.log").start()
    try:
        wait_until(lambda: "mailpoll running" in process.log(), 30, "mailpoll run to start")
        yield process
    finally:
        process.stop()


def test_a_second_run_on_the_same_data_dir_refuses_and_names_the_first(
    env: dict[str, str], running: MailpollProcess
) -> None:
    second = mailpoll(env, "run", "--quiet")

    assert second.returncode == 1
    assert second.stderr.count("\n") == 1, second.stderr
    assert second.stderr.startswith("error: mailpoll is already running on the data dir")
    assert running.process is not None
    assert f"(pid {running.process.pid})" in second.stderr
    assert running.process.poll() is None  # the first one runs on


def ledger_count(env: dict[str, str]) -> int:
    database = Database(f"sqlite:///{Path(env['MAILPOLL_DATA_DIR']) / 'mailpoll.db'}")
    try:
        with database.engine.connect() as connection:
            query = sa.text("SELECT count(*) FROM received_messages")
            return int(connection.execute(query).scalar_one())
    finally:
        database.dispose()


def test_a_poll_beside_run_never_takes_the_same_mail_twice(
    env: dict[str, str],
    dovecot: DovecotServer,
    mailbox_user: tuple[str, str],
    tmp_path: Path,
) -> None:
    user, password = mailbox_user
    total = 300
    for n in range(total):
        dovecot.append(user, corpus.plain(f"message {n}"))
    add_inbound(env, dovecot, user, password)
    run = MailpollProcess(["run", "--quiet"], env, tmp_path / "run.log").start()
    by_hand: list[dict[str, object]] = []
    try:
        while ledger_count(env) < total and len(by_hand) < 40:
            polled = mailpoll(env, "poll", "box", "--json")
            assert polled.returncode == 0, polled.stdout + polled.stderr
            by_hand.append(json.loads(polled.stdout))
        wait_until(lambda: ledger_count(env) == total, 60, f"{total} messages in the ledger")
    finally:
        run.stop()

    assert "poll failed" not in run.log()
    announced = sum(int(n) for n in ANNOUNCED.findall(run.log()))
    announced += sum(int(str(result["announced"])) for result in by_hand)
    assert announced == total  # every message once: no second poller on the account
    assert run.process is not None
    for result in by_hand:
        assert result["outcome"] in ("polled", "busy"), result
        if result["outcome"] == "busy":
            assert f"(pid {run.process.pid})" in str(result["reason"])


def test_a_poll_by_hand_sends_its_error_report_at_once(
    env: dict[str, str], dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, _ = mailbox_user
    add_inbound(env, dovecot, user, "wrong password")
    with SmtpServer() as smtp:
        relay = mailpoll(
            env, "accounts", "add", "relay", "--type", "outbound", "--host", smtp.host,
            "--port", str(smtp.port), "--encryption", "none", "--auth-type", "none",
        )  # fmt: skip
        assert relay.returncode == 0, relay.stderr
        for key, value in (
            ("system_email_address", "mailpoll@example.com"),
            ("error_reporting_email_address", "ops@example.com"),
        ):
            assert mailpoll(env, "settings", "set", key, value).returncode == 0

        polled = mailpoll(env, "poll", "box")

        assert polled.returncode == 1
        assert [r.rcpt_tos for r in smtp.received] == [["ops@example.com"]]
        assert b"mailpoll: account box is failing" in smtp.received[0].raw


def test_a_report_that_cannot_go_out_is_not_marked_as_sent(
    env: dict[str, str], dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, _ = mailbox_user
    add_inbound(env, dovecot, user, "wrong password")
    relay = mailpoll(
        env, "accounts", "add", "relay", "--type", "outbound", "--host", "127.0.0.1",
        "--port", "1", "--encryption", "none", "--auth-type", "none",
    )  # fmt: skip
    assert relay.returncode == 0, relay.stderr
    for key, value in (
        ("system_email_address", "mailpoll@example.com"),
        ("error_reporting_email_address", "ops@example.com"),
    ):
        assert mailpoll(env, "settings", "set", key, value).returncode == 0

    polled = mailpoll(env, "poll", "box")

    assert polled.returncode == 1
    assert "cannot send the report" in polled.stderr
    database = Database(f"sqlite:///{Path(env['MAILPOLL_DATA_DIR']) / 'mailpoll.db'}")
    try:
        with database.engine.connect() as connection:
            query = sa.text("SELECT error_reported_at FROM account_status")
            assert connection.execute(query).scalar_one() is None  # tried again next time
    finally:
        database.dispose()


def test_polling_a_disabled_account_says_so_by_name(
    env: dict[str, str], dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, password = mailbox_user
    add_inbound(env, dovecot, user, password)
    assert mailpoll(env, "accounts", "disable", "box").returncode == 0

    polled = mailpoll(env, "poll", "box")

    assert polled.returncode == 1
    assert "account: box" in polled.stdout
    assert "reason: the account is disabled" in polled.stdout


def test_status_without_a_redis_server_tells_the_next_poll_from_the_backoff(
    env: dict[str, str], dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, _ = mailbox_user
    add_inbound(env, dovecot, user, "wrong password")
    assert mailpoll(env, "poll", "box").returncode == 1  # authentication: 15 minutes' backoff

    shown = mailpoll(env, "status", "--json")

    assert shown.returncode == 0, shown.stderr
    (row,) = json.loads(shown.stdout)
    assert row["consecutive_failures"] == 1
    assert row["next_poll_at"] is not None  # was "-": the schedule lives in `mailpoll run`
