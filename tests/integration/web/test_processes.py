"""The admin API as processes serve it: `mailpoll run` serves it beside the polling (or not,
with --no-web), and a port that is taken is one line, never a traceback."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.ports import free_port
from tests.support.processes import MAILPOLL, MailpollProcess, environment, wait_until

pytestmark = pytest.mark.integration
ROOT = Path(__file__).parents[3]


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


def run(tmp_path: Path, port: int, *args: str) -> MailpollProcess:
    env = environment(data_dir=str(tmp_path / "data"), web_port=str(port))
    process = MailpollProcess(["run", "--quiet", *args], env, tmp_path / "run.log").start()
    wait_until(lambda: "Ctrl-C stops" in process.log(), 30, "mailpoll run to start")
    return process


def test_run_serves_the_admin_api(tmp_path: Path) -> None:
    port = free_port()
    process = run(tmp_path, port)
    try:
        wait_until(lambda: "admin API on" in process.log(), 30, "the admin API")
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        anonymous = httpx.get(f"http://127.0.0.1:{port}/api/accounts", timeout=10)
    finally:
        assert process.stop() == 0, process.log()

    assert f"console on http://127.0.0.1:{port}/ and admin API on" in process.log()
    assert "admins add NAME --role admin --password-stdin" in process.log()  # none yet
    assert health.status_code == 200
    assert anonymous.status_code == 401
    assert "Traceback" not in process.log()


def test_run_with_the_port_taken_warns_in_one_line_and_polls_on(
    tmp_path: Path, taken_port: int
) -> None:
    process = run(tmp_path, taken_port)
    try:
        wait_until(lambda: "the admin API is not served" in process.log(), 30, "the warning")
        alive = process.process is not None and process.process.poll() is None
    finally:
        process.stop()

    warnings = [line for line in process.log().splitlines() if line.startswith("warning: ")]
    assert alive
    assert warnings == [
        f"warning: web: cannot listen on 127.0.0.1:{taken_port}: Address already in use "
        "(another process has it: choose another port, MAILPOLL_WEB_PORT); the admin API is "
        "not served"
    ]
    assert "Traceback" not in process.log()


def test_run_with_no_web_serves_nothing(tmp_path: Path) -> None:
    port = free_port()
    process = run(tmp_path, port, "--no-web")
    try:
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    finally:
        process.stop()

    assert "admin API" not in process.log()


def test_web_on_a_taken_port_is_one_error_line(tmp_path: Path, taken_port: int) -> None:
    env = environment(data_dir=str(tmp_path / "data"))
    done = subprocess.run(
        [*MAILPOLL, "web", "--port", str(taken_port)], env=env, capture_output=True, text=True,
        timeout=60, cwd=ROOT, check=False,
    )  # fmt: skip

    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"error: web: cannot listen on 127.0.0.1:{taken_port}: Address already in use "
        "(another process has it: choose another port, MAILPOLL_WEB_PORT)"
    ]
