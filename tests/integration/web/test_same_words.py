"""The command line and the API refuse the same hostile values with the same words.

Each row is given to `mailpoll ...` (in this process, on the server's database) and to the
API; the CLI's `error:` line and the problem's `detail` must be the same line, and the
problem names the field.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from mailpoll.cli.main import main
from tests.integration.test_hostile_inputs import _closing_engines as closing_engines
from tests.integration.web.conftest import Api

pytestmark = pytest.mark.integration
NEW = ("accounts", "add", "newbie", "--type", "inbound", "--host", "imap.example.com",
       "--login", "u")  # fmt: skip
NEW_BODY = {"name": "newbie", "type": "inbound", "host": "imap.example.com", "login": "u"}
UPDATE = ("accounts", "update", "target")


@dataclass(frozen=True)
class Row:
    """One hostile value: the command's arguments, and the request that says the same."""

    argv: tuple[str, ...]
    method: str
    path: str
    body: Any = None
    content: bytes | None = None
    params: dict[str, Any] = field(default_factory=dict)


def add(*options: str, **fields: Any) -> Row:
    return Row((*NEW, *options), "POST", "/api/accounts", {**NEW_BODY, **fields})


def update(*options: str, **fields: Any) -> Row:
    return Row((*UPDATE, *options), "PATCH", "/api/accounts/target", fields)


def imported(text: bytes) -> Row:
    return Row(("accounts", "import", "{file}"), "POST", "/api/account-import", content=text)


def doc(*entries: Any, version: Any = 1) -> bytes:
    return json.dumps({"version": version, "accounts": list(entries)}).encode()


ROWS = {
    "interval in words": update("--polling-interval", "soon", polling_interval="soon"),
    "huge interval": update("--polling-interval", "99999999999", polling_interval="99999999999"),
    "negative interval": update("--polling-interval", "-5", polling_interval="-5"),
    "zero batch": update("--max-batch", "0", max_batch="0"),
    "port out of range": update("--port", "70000", port="70000"),
    "port and default port": update("--port", "1143", "--use-default-port", port="1143",
                                    use_default_port=True),
    "date in words": update("--process-after", "tomorrow", process_after="tomorrow"),
    "year 99999": update("--process-after", "99999-01-01", process_after="99999-01-01"),
    "folder ../..": update("--folder", "../..", folder="../.."),
    "absolute move folder": update("--on-email-received", "move", "--move-to-folder", "/etc",
                                   on_email_received="move", move_to_folder="/etc"),
    "newline in a host": update("--host", "imap.example.com\nX-Evil: 1",
                                host="imap.example.com\nX-Evil: 1"),
    "NUL in a description": update("--description", "a\x00b", description="a\x00b"),
    "undecodable description": update("--description", "caf\udce9", description="caf\udce9"),
    "long login": update("--login", "x" * 400, login="x" * 400),
    "unknown encryption": update("--encryption", "tls", encryption="tls"),
    "POP3 mark read": update("--protocol", "pop3", "--on-email-received", "mark_read",
                             protocol="pop3", on_email_received="mark_read"),
    "test_to on inbound": update("--test-to", "a@example.com", test_to="a@example.com"),
    "unknown property": update("--property", "colour=red", properties="colour=red"),
    "token config not JSON": update("--auth-type", "oauth2", "--client-token-config", "{",
                                    auth_type="oauth2", client_token_config="{"),
    "rename onto another": update("--rename", "other", name="other"),
    "unknown account": Row(("accounts", "update", "ghost", "--host", "h"), "PATCH",
                           "/api/accounts/ghost", {"host": "h"}),
    "enable an unknown account": Row(("accounts", "enable", "ghost"), "POST",
                                     "/api/accounts/ghost/enable"),
    "unknown type": add("--type", "sideways", type="sideways"),
    "bad name": Row(("accounts", "add", "bad name!", "--type", "inbound", "--host", "h"),
                    "POST", "/api/accounts", {"name": "bad name!", "type": "inbound",
                                              "host": "h"}),
    "bad host": add("--host", "imap example.com", host="imap example.com"),
    "existing name": Row(("accounts", "add", "other", "--type", "inbound", "--host", "h"),
                         "POST", "/api/accounts", {"name": "other", "type": "inbound",
                                                   "host": "h"}),
    "second enabled outbound": Row(
        ("accounts", "add", "relay2", "--type", "outbound", "--host", "smtp.example.com",
         "--auth-type", "none"), "POST", "/api/accounts",
        {"name": "relay2", "type": "outbound", "host": "smtp.example.com", "auth_type": "none"}),
    "unknown setting": Row(("settings", "set", "colour", "red"), "PUT", "/api/settings/colour",
                           {"value": "red"}),
    "interval setting in words": Row(
        ("settings", "set", "default_polling_interval", "soon"), "PUT",
        "/api/settings/default_polling_interval", {"value": "soon"}),
    "address setting": Row(("settings", "set", "system_email_address", "not an address"), "PUT",
                           "/api/settings/system_email_address", {"value": "not an address"}),
    "unknown dead letter": Row(("dead-letters", "replay", "424242"), "POST",
                               "/api/dead-letters/replay", {"ids": [424242]}),
    "dead letter id beyond 32 bits": Row(("dead-letters", "replay", "5537944315611490304"),
                                         "POST", "/api/dead-letters/replay",
                                         {"ids": [5537944315611490304]}),
    "dead letters of an unknown account": Row(
        ("dead-letters", "replay", "--account", "ghost"), "POST", "/api/dead-letters/replay",
        {"account": "ghost"}),
    "import of version 2": imported(doc(NEW_BODY, version=2)),
    "import of a list": imported(b"[1, 2]"),
    "import not JSON": imported(b'{"version": 1,'),
    "import not UTF-8": imported(b"\xff\xfe"),
    "import with a refused entry": imported(doc({**NEW_BODY, "max_batch": 0})),
}  # fmt: skip


@pytest.fixture(scope="module")
def seeded(api: Api) -> Api:
    admin = api.admin()
    for name in ("target", "other"):
        body = {"name": name, "type": "inbound", "host": "imap.example.com", "login": "u"}
        assert admin.post("/api/accounts", json=body).status_code == 201
    relay = {"name": "relay", "type": "outbound", "host": "smtp.example.com", "auth_type": "none"}
    assert admin.post("/api/accounts", json=relay).status_code == 201
    return api


@pytest.fixture
def cli(
    seeded: Api, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Any]:
    """`mailpoll ARGS` in this process on the server's database: (exit code, stderr)."""
    for name in [n for n in os.environ if n.startswith("MAILPOLL_")]:
        monkeypatch.delenv(name)
    for name, value in seeded.web.env.items():
        if name.startswith("MAILPOLL_"):
            monkeypatch.setenv(name, value)

    def run(argv: tuple[str, ...]) -> tuple[int, str]:
        capsys.readouterr()
        code = main(list(argv))
        return code, capsys.readouterr().err

    with closing_engines(monkeypatch):  # as a process would, by ending
        yield run


@pytest.mark.parametrize("row", ROWS.values(), ids=ROWS.keys())
def test_cli_and_api_refuse_with_the_same_line(
    row: Row, seeded: Api, cli: Any, tmp_path: Path
) -> None:
    argv = row.argv
    if row.content is not None:
        file = tmp_path / "accounts.json"
        file.write_bytes(row.content)
        argv = tuple(str(file) if a == "{file}" else a for a in argv)

    code, stderr = cli(argv)
    content = _raw(row)
    headers = {} if content is None else {"content-type": "application/json"}
    if row.method == "PATCH":
        headers["If-Match"] = "*"  # any version: the values are what is refused
    answer = seeded.admin().request(
        row.method, row.path, content=content, headers=headers, params=row.params
    )

    assert code == 2, stderr
    cli_reason = stderr.strip().splitlines()[-1].removeprefix("error: ")
    assert answer.status_code in (404, 422), answer.text
    problem = answer.json()
    assert answer.headers["content-type"] == "application/problem+json"
    expected = cli_reason.replace(str(tmp_path / "accounts.json"), "body")
    assert problem["detail"] == expected
    if answer.status_code == 422:
        assert problem["field"] == expected.split(":")[0]


def _raw(row: Row) -> bytes | None:
    if row.content is not None:
        return row.content
    if row.body is None:
        return None
    return json.dumps(row.body).encode()  # a lone surrogate travels as an escape


def test_every_row_is_refused_without_a_change(seeded: Api) -> None:
    names = [i["name"] for i in seeded.admin().get("/api/accounts").json()["items"]]

    assert names == ["other", "relay", "target"]
    assert httpx.get(f"{seeded.url}/healthz").status_code == 200
