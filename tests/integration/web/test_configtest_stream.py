"""Test Configuration over HTTP against the real Dovecot: the steps of `mailpoll accounts test`,
streamed as server-sent events as each finishes, saving nothing."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.web.conftest import Api
from tests.support.dovecot import DovecotServer
from tests.support.processes import wait_until
from tests.support.web_server import mailpoll

pytestmark = pytest.mark.integration


def events(answer: httpx.Response) -> Iterator[tuple[str, dict[str, Any]]]:
    """The (event, data) pairs of a text/event-stream, read as they arrive."""
    kind, data = "message", ""
    for line in answer.iter_lines():
        if line.startswith("event: "):
            kind = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data += line.removeprefix("data: ")
        elif not line and data:
            yield kind, json.loads(data)
            kind, data = "message", ""


def streamed(client: httpx.Client, path: str, body: Any = None) -> list[tuple[str, Any]]:
    with client.stream("POST", path, json=body) as answer:
        assert answer.status_code == 200, answer.read()
        assert answer.headers["Content-Type"].startswith("text/event-stream")
        return list(events(answer))


def without_time(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in step.items() if k != "seconds"} for step in steps]


def imap_values(dovecot: DovecotServer, user: str, password: str) -> dict[str, Any]:
    return {
        "type": "inbound", "host": "127.0.0.1", "encryption": "none",
        "port": dovecot.imap_port, "login": user, "password": password,
    }  # fmt: skip


def test_a_saved_account_streams_every_step_ok_as_the_command_line_reports_them(
    api: Api, dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, password = mailbox_user
    added = mailpoll(
        api.web.env, "accounts", "add", "box1", "--type", "inbound", "--host", "127.0.0.1",
        "--encryption", "none", "--port", str(dovecot.imap_port), "--login", user,
        "--password-stdin", stdin=password + "\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr

    received = streamed(api.admin(), "/api/accounts/box1/test")

    assert [kind for kind, _ in received] == ["step"] * (len(received) - 1) + ["done"]
    steps = [data for _, data in received[:-1]]
    assert [s["name"] for s in steps] == [
        "resolve", "connect", "credentials", "login", "folder", "filters",
    ]  # fmt: skip
    assert all(step["ok"] for step in steps)
    assert received[-1][1] == {"account": "box1", "passed": True}
    cli = mailpoll(api.web.env, "accounts", "test", "box1", "--json")
    assert without_time(steps) == without_time(json.loads(cli.stdout)["steps"])


def test_a_wrong_password_fails_at_login_with_the_command_lines_hint_and_saves_nothing(
    api: Api, dovecot: DovecotServer, mailbox_user: tuple[str, str], tmp_path: Any
) -> None:
    user, _password = mailbox_user
    values = imap_values(dovecot, user, "wrong")
    before = mailpoll(api.web.env, "accounts", "list", "--json").stdout

    received = streamed(api.admin(), "/api/account-tests", values)

    *steps, (done, verdict) = received
    failed = steps[-1][1]
    assert (failed["name"], failed["ok"]) == ("login", False)
    assert "check the login and password" in failed["hint"]
    assert (done, verdict) == ("done", {"account": "unsaved", "passed": False})
    values_file = tmp_path / "account.json"
    values_file.write_text(json.dumps(values))
    cli = mailpoll(api.web.env, "accounts", "test", "--file", str(values_file), "--json")
    assert cli.returncode == 1
    cli_steps = json.loads(cli.stdout)["steps"]
    assert without_time([data for _, data in steps]) == without_time(cli_steps)
    assert mailpoll(api.web.env, "accounts", "list", "--json").stdout == before


@contextlib.contextmanager
def held_greeting() -> Iterator[tuple[int, threading.Event, threading.Event]]:
    """An IMAP port that greets only once released: (port, connected, release). Never
    released, it hangs up without a word, and the connect step fails."""
    listener = socket.create_server(("127.0.0.1", 0))
    connected, release = threading.Event(), threading.Event()

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:  # closed: the test is over
                return
            connected.set()
            with conn:
                if release.wait(20):
                    conn.sendall(b"* OK held-back greeting\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], connected, release
    finally:
        release.set()
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join(5)


def test_each_step_arrives_as_it_finishes_not_at_the_end(api: Api) -> None:
    with held_greeting() as (port, connected, release):
        values = {"type": "inbound", "host": "127.0.0.1", "encryption": "none", "port": port,
                  "login": "someone", "password": "x"}  # fmt: skip
        with api.admin().stream("POST", "/api/account-tests", json=values) as answer:
            arriving = events(answer)
            first = next(arriving)
            assert first[0] == "step"
            assert first[1]["name"] == "resolve"
            # The connect step cannot finish before the server greets: resolve came first.
            wait_until(connected.is_set, 30, "the connect step to reach the server")
            assert not release.is_set()
            release.set()
            rest = list(arriving)
    names = [(kind, data.get("name")) for kind, data in rest]
    assert names[0] == ("step", "connect")
    assert rest[0][1]["ok"] is True
    assert rest[-1] == ("done", {"account": "unsaved", "passed": False})


def test_only_admins_test_and_bad_values_are_refused_before_any_step(
    api: Api, dovecot: DovecotServer
) -> None:
    values = imap_values(dovecot, "someone", "x")
    assert api.viewer().post("/api/account-tests", json=values).status_code == 403
    assert api.client().post("/api/account-tests", json=values).status_code == 401
    assert api.viewer().post("/api/accounts/box1/test").status_code == 403
    assert api.admin().post("/api/accounts/no-such/test").status_code == 404

    refused = api.admin().post("/api/account-tests", json={**values, "port": 0})
    assert refused.status_code == 422
    assert refused.headers["Content-Type"] == "application/problem+json"
    cli = mailpoll(api.web.env, "accounts", "add", "x", "--type", "inbound", "--host",
                   "127.0.0.1", "--login", "a", "--port", "0")  # fmt: skip
    assert refused.json()["field"] == "port"
    assert f"error: {refused.json()['detail']}" == cli.stderr.strip()
