"""`mailpoll run` as a newcomer runs it: what it prints per message, and how Ctrl-C stops it."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import corpus
from tests.support.dovecot import DovecotServer
from tests.support.processes import MAILPOLL, environment, wait_until

pytestmark = pytest.mark.integration
SHORT_LINE = re.compile(r'^\d\d:\d\d:\d\d box INBOX "(?P<subject>[^"]+)" (?P<size>[\d.]+ k?B)$')
ROOT = Path(__file__).parents[3]


class Run:
    """`mailpoll run ARGS` on a data dir of its own; stdout and stderr kept apart in files."""

    def __init__(self, tmp_path: Path, name: str) -> None:
        self.env = environment(data_dir=str(tmp_path / name), log_level="INFO")
        self.out, self.err = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
        self.process: subprocess.Popen[bytes] | None = None

    def mailpoll(self, *args: str, stdin: str = "") -> None:
        done = subprocess.run(
            [*MAILPOLL, *args], env=self.env, input=stdin, capture_output=True, text=True,
            timeout=60, cwd=ROOT,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr

    def add(self, host: str, port: int, login: str, password: str, *extra: str) -> None:
        self.mailpoll(
            "accounts", "add", "box", "--type", "inbound", "--host", host, "--encryption",
            "none", "--port", str(port), "--login", login, "--password-stdin",
            "--on-email-received", "leave", *extra, stdin=password + "\n",
        )  # fmt: skip

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.process = subprocess.Popen(
                [*MAILPOLL, "run", *args], env=self.env, stdout=out, stderr=err, cwd=ROOT,
                start_new_session=True,
            )  # fmt: skip
        wait_until(lambda: "Ctrl-C stops" in self.stderr(), 30, "mailpoll run to start")
        return self.process

    def lines(self) -> list[str]:
        return self.out.read_text().splitlines() if self.out.exists() else []

    def stderr(self) -> str:
        return self.err.read_text(errors="replace") if self.err.exists() else ""

    def stop(self, signum: int = signal.SIGTERM) -> int:
        assert self.process is not None
        self.process.send_signal(signum)
        return self.process.wait(30)

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def runs(tmp_path: Path) -> Iterator[list[Run]]:
    made: list[Run] = []
    yield made
    for run in made:
        run.close()


def test_run_prints_a_short_line_per_message_and_with_json_the_whole_event(
    dovecot: DovecotServer, mailbox_user: tuple[str, str], tmp_path: Path, runs: list[Run]
) -> None:
    user, password = mailbox_user
    dovecot.append(user, corpus.plain("Invoice 42"))
    dovecot.append(user, corpus.with_attachment(size=20_000))
    short, full = Run(tmp_path, "short"), Run(tmp_path, "json")
    runs.extend([short, full])
    for run, args in ((short, ()), (full, ("--json",))):
        run.add(dovecot.host, dovecot.imap_port, user, password)
        run.start(*args)
        wait_until(lambda run=run: len(run.lines()) >= 2, 30, "an output line per message")
        assert run.stop() == 0, run.stderr()

    matches = [SHORT_LINE.match(line) for line in short.lines()]
    assert all(matches), short.lines()
    shown = {m["subject"]: m["size"] for m in matches if m is not None}
    events = {e["data"]["subject"]: e for e in map(json.loads, full.lines())}
    assert set(shown) == set(events) == {"Invoice 42", "Monthly report"}
    invoice, report = events["Invoice 42"], events["Monthly report"]
    assert shown["Invoice 42"] == f"{invoice['data']['size']} B"  # under 1000 bytes
    assert shown["Monthly report"] == f"{report['data']['size'] / 1000:.1f} kB"
    assert report["routing_key"] == "message.received.box"
    assert report["type"] == "mailpoll.message.received"
    assert report["data"]["attachments"][0]["filename"] == "report.pdf"


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that takes connections and never says a word: a poll of it stays in flight."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


def test_a_second_ctrl_c_stops_run_at_once_and_says_the_chunk_is_fetched_again(
    silent_server: int, tmp_path: Path, runs: list[Run]
) -> None:
    run = Run(tmp_path, "run")
    runs.append(run)
    run.add("127.0.0.1", silent_server, "user", "secret", "--property", "connect_timeout=600",
            "--property", "timeout=600")  # fmt: skip
    process = run.start()
    wait_until(lambda: "workers.poll: box: poll started" in run.stderr(), 30, "a poll to start")

    process.send_signal(signal.SIGINT)
    wait_until(lambda: "finishing the work in flight" in run.stderr(), 30, "the first Ctrl-C")
    assert "(Ctrl-C again stops at once)" in run.stderr()
    assert process.poll() is None  # the poll in flight holds it: up to 600 s

    assert run.stop(signal.SIGINT) == 130
    last = run.stderr().splitlines()[-1]
    assert last.startswith("second Ctrl-C: stopped at once; the chunk in flight, if any, is ")
    assert last.endswith("fetched again by the next poll, as after a kill")
