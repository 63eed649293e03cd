"""mailpoll as real subprocesses (scheduler, worker), with logs kept for the assertions."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

MAILPOLL = [sys.executable, "-m", "mailpoll.cli.main"]
LOG_LINE = re.compile(
    r"^(\S+ \S+) INFO workers\.poll: (\S+): poll (started|ended) \(lease fence (\d+)\)"
)


@dataclass
class MailpollProcess:
    """One `mailpoll ...` child; stderr goes to a file the test reads afterwards."""

    args: list[str]
    env: dict[str, str]
    log_file: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> MailpollProcess:
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                [*MAILPOLL, *self.args],
                env=self.env,
                stdout=log,
                stderr=log,
                cwd=Path(__file__).parents[2],
                start_new_session=True,
            )
        return self

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM, as an orchestrator does; SIGKILL if it does not end in time."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""


def environment(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILPOLL_")}
    env.update({f"MAILPOLL_{k.upper()}": v for k, v in values.items()})
    env["PYTHONUNBUFFERED"] = "1"
    return env


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


def poll_spans(logs: list[str]) -> dict[str, list[tuple[datetime, datetime, int]]]:
    """Per account, the (start, end, fence) of every poll in the given worker logs."""
    open_polls: dict[tuple[str, int], datetime] = {}
    spans: dict[str, list[tuple[datetime, datetime, int]]] = {}
    for text in logs:
        for line in text.splitlines():
            match = LOG_LINE.match(line)
            if not match:
                continue
            stamp = datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S,%f")
            key = (match[2], int(match[4]))
            if match[3] == "started":
                open_polls[key] = stamp
            elif key in open_polls:
                spans.setdefault(match[2], []).append((open_polls.pop(key), stamp, key[1]))
    return spans
