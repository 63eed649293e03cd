"""`mailpoll admins` and `mailpoll tokens` as an operator runs them: one line per refusal,
the token printed once, never a password or hash in any output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit.cli.test_cli import Run

PASSWORD = "operator-Pa55word"


@pytest.fixture
def run(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    for name in ("DATABASE_URL", "SECRET_KEY", "REDIS_URL", "ACTOR"):
        monkeypatch.delenv(f"MAILPOLL_{name}", raising=False)
    monkeypatch.setenv("MAILPOLL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MAILPOLL_ACTOR", "ops")
    return Run(capsys, monkeypatch)


def test_admins_add_list_passwd_remove(run: Run) -> None:
    assert run("admins", "add", "alice", "--role", "admin", "--password-stdin",
               stdin=PASSWORD + "\n")[:2] == (0, "created: alice (admin)\n")  # fmt: skip
    out = run("admins", "list", "--json")[1]
    listed = json.loads(out)
    assert [(a["name"], a["role"], a["created_by"]) for a in listed] == [("alice", "admin", "ops")]
    assert "hash" not in out
    assert run("admins", "passwd", "alice", "--password-stdin", stdin=PASSWORD + "2\n")[0] == 0
    assert run("admins", "remove", "alice")[:2] == (0, "removed: alice\n")
    assert run("admins", "list")[1] == (
        "no admin users yet: add one with `mailpoll admins add NAME --role admin`\n"
    )


@pytest.mark.parametrize(
    ("argv", "stdin", "error"),
    [
        (("admins", "add", "bob", "--role", "root"), PASSWORD,
         "error: role: must be one of admin, viewer (got 'root')"),
        (("admins", "add", "bob", "--role", "admin"), "short",
         "error: password: must be at least 12 characters long"),
        (("admins", "add", "bob", "--role", "admin"), "",
         "error: password: --password-stdin read an empty password"),
        (("admins", "add", "b o b", "--role", "admin"), PASSWORD,
         "error: name: must start with a letter or digit"),
        (("admins", "passwd", "nobody"), PASSWORD, "error: no admin user named 'nobody'"),
        (("admins", "remove", "nobody"), "", "error: no admin user named 'nobody'"),
        (("tokens", "create", "svc", "--role", "owner"), "",
         "error: role: must be one of admin, viewer (got 'owner')"),
        (("tokens", "revoke", "nobody"), "", "error: no API token named 'nobody'"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_code_2(
    run: Run, argv: tuple[str, ...], stdin: str, error: str
) -> None:
    code, out, err = run(*argv, stdin=stdin)

    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(error)


def test_a_token_is_printed_once_and_listed_by_its_first_characters(run: Run) -> None:
    code, out, err = run("tokens", "create", "svc", "--role", "viewer")
    token = out.strip()

    assert code == 0
    assert token.startswith("mpt_")
    assert "not shown again" in err
    listed = run("tokens", "list", "--json")[1]
    assert token not in listed
    assert json.loads(listed)[0]["starts_with"] == token[:8]
    assert run("tokens", "create", "svc", "--role", "viewer")[2] == (
        "error: name: a token named 'svc' exists already\n"
    )
    assert run("tokens", "revoke", "svc")[:2] == (0, "revoked: svc\n")
    assert run("tokens", "list")[1].startswith("no API tokens yet")
