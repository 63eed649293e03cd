"""The pipeline commands as a user runs them: poll, status, events tail, dead-letters, test."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mailpoll.cli.main import main
from tests.support import corpus
from tests.support.dovecot import DovecotServer
from tests.support.events import tail_bound
from tests.support.processes import environment, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in ("DATABASE_URL", "SECRET_KEY", "REDIS_URL", "EVENTS_URL", "UPLOAD_DIR"):
        monkeypatch.delenv(f"MAILPOLL_{name}", raising=False)
    monkeypatch.setenv("MAILPOLL_DATA_DIR", str(tmp_path / "data"))
    return environment(data_dir=str(tmp_path / "data"))


def add(dovecot: DovecotServer, user: str, password: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    argv = ["accounts", "add", "box", "--type", "inbound", "--host", "127.0.0.1",
            "--encryption", "none", "--port", str(dovecot.imap_port), "--login", user,
            "--password-stdin", "--property", "max_message_mb=1"]  # fmt: skip
    assert main(argv) == 0


def test_poll_status_tail_and_dead_letters(
    dovecot: DovecotServer,
    mailbox_user: tuple[str, str],
    cli_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    user, password = mailbox_user
    add(dovecot, user, password, monkeypatch)
    dovecot.append(user, corpus.plain("one"))
    dovecot.append(user, corpus.with_attachment(size=1_500_000))
    capsys.readouterr()
    tail = subprocess.Popen(
        [sys.executable, "-m", "mailpoll.cli.main", "events", "tail", "--count", "1"],
        env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        data_dir = Path(cli_env["MAILPOLL_DATA_DIR"])
        wait_until(lambda: tail_bound(data_dir), 20, "the tail to bind its queue")
        assert main(["poll", "box"]) == 0
        out = capsys.readouterr().out
        assert "announced: 1" in out
        assert "dead_lettered: 1" in out
        stdout, _ = tail.communicate(timeout=20)
    finally:
        tail.kill()
    [event] = [json.loads(line) for line in stdout.decode().splitlines()]
    assert event["data"]["subject"] == "one"

    assert main(["status", "--json"]) == 0
    [status] = json.loads(capsys.readouterr().out)
    assert (status["account"], status["consecutive_failures"], status["dead_letters"]) == (
        "box", 0, 1,
    )  # fmt: skip
    assert main(["dead-letters", "list", "--json"]) == 0
    [letter] = json.loads(capsys.readouterr().out)
    assert letter["state"] == "dead"
    assert main(["dead-letters", "replay", str(letter["id"])]) == 0
    assert capsys.readouterr().out.startswith("1 dead letter(s) will be tried again")


def test_configuration_test_of_values_in_a_file(
    dovecot: DovecotServer,
    mailbox_user: tuple[str, str],
    cli_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    user, password = mailbox_user
    values = {"type": "inbound", "host": "127.0.0.1", "encryption": "none",
              "port": dovecot.imap_port, "login": user, "password": password}  # fmt: skip
    account_file = tmp_path / "account.json"
    account_file.write_text(json.dumps(values))
    assert main(["accounts", "test", "--file", str(account_file), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["passed"] is True
    assert main(["accounts", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []  # nothing saved
    account_file.write_text(json.dumps({**values, "password": "wrong"}))
    assert main(["accounts", "test", "--file", str(account_file)]) == 1
    assert "hint: check the login and password" in capsys.readouterr().out
