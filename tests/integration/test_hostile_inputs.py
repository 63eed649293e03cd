"""Hostile input to the `mailpoll` command, on SQLite and on PostgreSQL.

For every row: the documented exit code (2 for bad input), exactly one line on stderr that
starts with `error: `, no Python traceback anywhere, and nothing written to the database.
Most rows run `mailpoll.cli.main.main(argv)` in this process (fast); a few run the installed
console script, where bytes that are not UTF-8 can be given as they come from a shell.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from mailpoll.cli.main import main
from shared.db.database import Database
from shared.db.engine import make_engine
from shared.secrets import new_key
from tests.support.postgres import drop_database, fresh_database, postgres_admin_url

MAILPOLL = Path(sys.executable).parent / "mailpoll"
DATE_TIME = "not a date-time: use ISO 8601 like 2026-11-23T10:00:00Z"
ONE_LINE = "must not contain line breaks or other control characters"
SEED = [
    ["accounts", "add", "support", "--type", "inbound", "--host", "imap.example.com",
     "--login", "u", "--password-stdin"],
    ["accounts", "add", "relay", "--type", "outbound", "--host", "smtp.example.com",
     "--auth-type", "none"],
]  # fmt: skip


@dataclass(frozen=True)
class Case:
    """One hostile command: `{file}` in argv, env or the expected texts is a file with `file`."""

    argv: tuple[str, ...]
    error: str  # what stderr says after "error: " (its start)
    code: int = 2
    stdin: str = ""
    env: dict[str, str] = field(default_factory=dict)
    file: bytes | None = None
    out: str = ""  # what stdout starts with; "" means stdout stays empty


def case(*argv: str, error: str, **options: Any) -> Case:
    return Case(argv=argv, error=error, **options)


def document(*entries: Any, version: Any = 1) -> bytes:
    return json.dumps({"version": version, "accounts": list(entries)}).encode()


UPDATE = ("accounts", "update", "support")
ADD = ("accounts", "add", "new", "--type", "inbound", "--host", "imap.example.com", "--login", "u")
IMPORT = ("accounts", "import", "{file}")
NEW = {"name": "new", "type": "inbound", "host": "imap.example.com", "login": "u"}
REFUSED = "import: 1 problem(s), nothing written"

# Rows whose input reaches the database: run on SQLite and on PostgreSQL.
DATABASE_CASES = {
    "huge polling interval": case(*UPDATE, "--polling-interval", "99999999999",
        error="polling_interval: must be at most 604800 seconds (got 99999999999)"),
    "huge max batch": case(*UPDATE, "--max-batch", "99999999999",
        error="max_batch: must be at most 100000 messages (got 99999999999)"),
    "huge ignore older than": case(*UPDATE, "--ignore-older-than-hours", "99999999999",
        error="ignore_older_than_hours: must be at most 876600 hours (got 99999999999)"),
    "huge delete after": case(*UPDATE, "--delete-read-messages", "--delete-after-days",
        "99999999999", error="delete_after_days: must be at most 36500 days (got 99999999999)"),
    "huge port": case(*UPDATE, "--port", "99999999999",
        error="port: must be between 1 and 65535 (got 99999999999)"),
    "beyond 64 bits": case(*UPDATE, "--max-batch", "9" * 30, error="max_batch: must be at most"),
    "negative interval": case(*UPDATE, "--polling-interval", "-5",
        error="polling_interval: must be at least 1 (got -5)"),
    "negative port": case(*UPDATE, "--port", "-1", error="port: must be between 1 and 65535"),
    "interval with a unit": case(*UPDATE, "--polling-interval", "1m",
        error="polling_interval: must be a whole number of seconds (got '1m')"),
    "fractional interval": case(*UPDATE, "--polling-interval", "1.5",
        error="polling_interval: must be a whole number of seconds (got '1.5')"),
    "date in words": case(*UPDATE, "--process-after", "tomorrow",
        error=f"process_after: {DATE_TIME} (got 'tomorrow')"),
    "year 99999": case(*UPDATE, "--process-after", "99999-01-01",
        error=f"process_after: {DATE_TIME} (got '99999-01-01')"),
    "before year 1 in UTC": case(*UPDATE, "--process-after", "0001-01-01T00:00:00+01:00",
        error=f"process_after: {DATE_TIME}"),
    "after year 9999 in UTC": case(*UPDATE, "--process-after", "9999-12-31T23:59:59-05:00",
        error=f"process_after: {DATE_TIME}"),
    "NUL in a name": case("accounts", "add", "sup\x00port", "--type", "inbound", "--host", "h",
        error="name: must not contain NUL characters"),
    "newline in a name": case("accounts", "add", "support2\n", "--type", "inbound", "--host",
        "h", error=f"name: {ONE_LINE}"),
    "NUL in a host": case(*UPDATE, "--host", "imap\x00.example.com",
        error="host: must not contain NUL characters"),
    "newline in a host": case(*UPDATE, "--host", "imap.example.com\nX-Evil: 1",
        error=f"host: {ONE_LINE}"),
    "newline in a folder": case(*UPDATE, "--folder", "IN\nBOX", error=f"folder: {ONE_LINE}"),
    "folder ../..": case(*UPDATE, "--folder", "../..",
        error="folder: '../..' must not contain empty, '.' or '..' parts"),
    "absolute move folder": case(*UPDATE, "--on-email-received", "move", "--move-to-folder",
        "/etc", error="move_to_folder: '/etc' must not be an absolute path"),
    "undecodable byte in a folder": case(*UPDATE, "--folder", "Inbox\udcff",
        error="folder: is not UTF-8 text"),
    "undecodable byte in a description": case(*UPDATE, "--description", "caf\udce9",
        error="description: is not UTF-8 text"),
    "NUL in a description": case(*UPDATE, "--description", "a\x00b",
        error="description: must not contain NUL characters"),
    "unknown option": case(*UPDATE, "--colour", "red", error="No such option '--colour'"),
    "unknown account": case("accounts", "update", "ghost", "--host", "h",
        error="no email account named 'ghost'"),
    "remove an unknown account": case("accounts", "remove", "ghost", "--yes",
        error="no email account named 'ghost'"),
    "enable an unknown account": case("accounts", "enable", "ghost",
        error="no email account named 'ghost'"),
    "empty stdin password": case(*ADD, "--password-stdin",
        error="password: --password-stdin read an empty password"),
    "blank line as password": case(*ADD, "--password-stdin", stdin="\n",
        error="password: --password-stdin read an empty password"),
    "NUL in a password": case(*ADD, "--password-stdin", stdin="pa\x00ss\n",
        error="password: must not contain NUL characters"),
    "unknown type": case("accounts", "add", "new", "--type", "sideways", "--host", "h",
        error="type: must be one of inbound, outbound (got 'sideways')"),
    "second enabled outbound": case("accounts", "add", "relay2", "--type", "outbound",
        "--host", "smtp.example.com", "--auth-type", "none",
        error="enabled: outbound account 'relay' is already enabled"),
    "rename onto another": case(*UPDATE, "--rename", "relay",
        error="name: an account named 'relay' exists already"),
    "port and default port": case(*UPDATE, "--port", "1143", "--use-default-port",
        error="port: give either a port or use_default_port, not both"),
    "long login": case(*UPDATE, "--login", "x" * 400,
        error="login: must be at most 320 characters (got 400)"),
    "long name": case("accounts", "add", "a" * 300, "--type", "inbound", "--host", "h",
        error="name: must be at most 100 characters (got 300)"),
    "long host": case(*UPDATE, "--host", "a" * 300,
        error="host: must be at most 253 characters (got 300)"),
    "OAuth2 config not JSON": case(*UPDATE, "--auth-type", "oauth2", "--client-token-config",
        "{", error="client_token_config: not valid JSON"),
    "header injection": case("accounts", "update", "relay", "--test-to",
        "a@example.com\r\nBcc: x@example.com", error=f"test_to: {ONE_LINE}"),
    "endless time-out": case(*UPDATE, "--property", "timeout=inf",
        error="properties: timeout='inf': must be a number of seconds"),
    "unknown property": case(*UPDATE, "--property", "colour=red",
        error="properties: unknown key 'colour'"),
    "property without =": case(*UPDATE, "--property", "timeout",
        error="properties: --property wants KEY=VALUE"),
    "unknown dead letter": case("dead-letters", "replay", "99999",
        error="id: no dead letter with id 99999"),
    "dead letter beyond 64 bits": case("dead-letters", "replay", "9" * 23,
        error=f"id: no dead letter with id {'9' * 23}"),
    "dead letters of an unknown account": case("dead-letters", "list", "--account", "ghost",
        error="no email account named 'ghost'"),
    "import: not JSON": case(*IMPORT, file=b"{nope", error="{file}: not valid JSON"),
    "import: nested too deeply": case(*IMPORT, file=b"[" * 100_000,
        error="{file}: not valid JSON: nested too deeply"),
    "import: a list": case(*IMPORT, file=b"[1, 2]", error="{file}: expected a JSON object"),
    "import: accounts not a list": case(*IMPORT, file=b'{"version": 1, "accounts": {}}',
        error="{file}: expected a JSON object"),
    "import: version 2": case(*IMPORT, file=document(version=2),
        error="version: 2 is not understood: this mailpoll reads version 1"),
    "import: UTF-16": case(*IMPORT, file=document(NEW).decode().encode("utf-16"),
        error="{file}: not UTF-8 text: save it as UTF-8"),
    "import: Latin-1": case(*IMPORT, file=b'{"accounts": [{"name": "Zo\xeb"}]}',
        error="{file}: not UTF-8 text: save it as UTF-8"),
    "import: missing file": case("accounts", "import", "/nonexistent/accounts.json",
        error="Invalid value for 'FILE'"),
    "import: a directory": case("accounts", "import", "/", error="Invalid value for 'FILE'"),
    "import: host a number": case(*IMPORT, file=document({**NEW, "host": 5}), error=REFUSED,
        out="refused: new: host: must be text (got 5)"),
    "import: entry a number": case(*IMPORT, file=document(5), error=REFUSED,
        out="refused: (entry 1): must be a JSON object of account fields"),
    "import: name a number": case(*IMPORT, file=document({"name": 7}), error=REFUSED,
        out="refused: (entry 1): name: is required, as text"),
    "import: password a number": case(*IMPORT, file=document({**NEW, "password": 5}),
        error=REFUSED, out="refused: new: password: must be text"),
    "import: year 99999": case(*IMPORT, file=document({**NEW, "process_after": "99999-01-01"}),
        error=REFUSED, out=f"refused: new: process_after: {DATE_TIME}"),
    "import: huge interval": case(*IMPORT, file=document({**NEW, "polling_interval": 1e30}),
        error=REFUSED, out="refused: new: polling_interval: must be"),
    "import: NUL": case(*IMPORT, file=document({**NEW, "description": "a\x00"}), error=REFUSED,
        out="refused: new: description: must not contain NUL characters"),
    "import: lone surrogate": case(*IMPORT, file=b'{"accounts": [{"name": "new", "type": '
        b'"inbound", "host": "h", "login": "u", "description": "\\udcff"}]}', error=REFUSED,
        out="refused: new: description: is not UTF-8 text"),
    "import: second outbound": case(*IMPORT, file=document({"name": "relay2", "type":
        "outbound", "host": "smtp.example.com", "auth_type": "none"}), error=REFUSED,
        out="refused: relay2: enabled: outbound account 'relay' is already enabled"),
    "import: listed twice": case(*IMPORT, file=document(NEW, NEW), error=REFUSED,
        out="refused: new: name: listed twice in the file"),
}  # fmt: skip

# Rows refused before any database is opened: the environment and the command line.
EARLY_CASES = {
    "Redis URL without a scheme": case("accounts", "list", env={
        "MAILPOLL_REDIS_URL": "localhost:6379"}, error="MAILPOLL_REDIS_URL: must be a URL like "
        "redis://localhost:6379/0 (got 'localhost:6379')"),
    "Kafka broker": case("accounts", "list", env={"MAILPOLL_BROKER_URL": "kafka://k:9092"},
        error="MAILPOLL_BROKER_URL: must be a URL like amqp://"),
    "events URL nonsense": case("accounts", "list", env={"MAILPOLL_EVENTS_URL": "nonsense"},
        error="MAILPOLL_EVENTS_URL: must be a URL like amqp://"),
    "MySQL database": case("accounts", "list", env={
        "MAILPOLL_DATABASE_URL": "mysql://u:s3cret@db/mailpoll"},
        error="MAILPOLL_DATABASE_URL: must be a URL like postgresql://"),
    "database that does not answer": case("accounts", "list", env={
        "MAILPOLL_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/mailpoll"},
        error="MAILPOLL_DATABASE_URL: cannot open the database"),
    "database under /proc": case("accounts", "list", code=1, env={
        "MAILPOLL_DATABASE_URL": "sqlite:////proc/nonexistent/mailpoll.db"},
        error="/proc/nonexistent: No such file or directory"),
    "log level": case("accounts", "list", env={"MAILPOLL_LOG_LEVEL": "loud"},
        error="MAILPOLL_LOG_LEVEL: must be one of DEBUG"),
    "poll interval in words": case("accounts", "list", env={
        "MAILPOLL_DEFAULT_POLL_INTERVAL": "soon"}, error="MAILPOLL_DEFAULT_POLL_INTERVAL: "),
    "long actor": case("accounts", "list", env={"MAILPOLL_ACTOR": "a" * 201},
        error="MAILPOLL_ACTOR: String should have at most 200 characters"),
    "lock TTL": case("accounts", "list", env={"MAILPOLL_LOCK_TTL_SECONDS": "1"},
        error="MAILPOLL_LOCK_TTL_SECONDS: "),
    "data dir is a file": case("accounts", "list", file=b"", env={"MAILPOLL_DATA_DIR": "{file}"},
        error="MAILPOLL_DATA_DIR: '{file}' is not a directory"),
    "secret key not a key": case(*ADD, "--password-stdin", stdin="pw\n", code=1, env={
        "MAILPOLL_SECRET_KEY": "nope"}, error="MAILPOLL_SECRET_KEY must be one or more Fernet"),
    "unknown command": case("frobnicate", error="No such command 'frobnicate'."),
    "unknown subcommand": case("accounts", "frobnicate", error="No such command 'frobnicate'."),
    "missing argument": case("accounts", "add", error="Missing argument 'NAME'."),
    "missing option value": case("accounts", "add", "x", "--port",
        error="Option '--port' requires an argument."),
    "replay of nothing": case("dead-letters", "replay",
        error="give dead-letter IDs or --account NAME"),
    "replay of a word": case("dead-letters", "replay", "abc", error="Invalid value for"),
}  # fmt: skip

# Rows for the installed command: bytes as a shell passes them, and the tester's own reports.
PROCESS_CASES = {
    "byte not UTF-8 in an argument": (
        [b"accounts", b"update", b"support", b"--folder", b"Inbox\xff"], b"", {},
        "folder: is not UTF-8 text"),
    "password not UTF-8 on stdin": (
        [a.encode() for a in ADD] + [b"--password-stdin"], b"\xff\xfe\n", {},
        "password: is not UTF-8 text"),
    "huge polling interval": (
        [b"accounts", b"update", b"support", b"--polling-interval", b"99999999999"], b"", {},
        "polling_interval: must be at most 604800 seconds (got 99999999999)"),
    "Redis URL without a scheme": (
        [b"accounts", b"list"], b"", {"MAILPOLL_REDIS_URL": "localhost:6379"},
        "MAILPOLL_REDIS_URL: must be a URL like redis://localhost:6379/0 (got 'localhost:6379')"),
}  # fmt: skip


@dataclass
class Instance:
    """A mailpoll installation with two accounts; `state()` is everything stored."""

    env: dict[str, str]
    root: Path
    engine: sa.Engine

    def state(self) -> list[list[tuple[Any, ...]]]:
        tables = ("email_accounts", "audit_history", "dead_letters", "system_settings")
        with self.engine.connect() as connection:
            return [
                [tuple(row) for row in connection.execute(sa.text(f"SELECT * FROM {t}"))]  # noqa: S608
                for t in tables
            ]


@pytest.fixture
def engines(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Close the engines the commands opened: a process would, by ending."""
    with _closing_engines(monkeypatch):
        yield


@contextmanager
def _closing_engines(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    opened: list[Database] = []
    original = Database.__init__

    def tracked(self: Database, url: str) -> None:
        original(self, url)
        opened.append(self)

    monkeypatch.setattr(Database, "__init__", tracked)
    try:
        yield
    finally:
        for database in opened:
            database.dispose()


def _environment(monkeypatch: pytest.MonkeyPatch, *layers: dict[str, str]) -> None:
    for name in [n for n in os.environ if n.startswith("MAILPOLL_")]:
        monkeypatch.delenv(name)
    for layer in layers:
        for name, value in layer.items():
            monkeypatch.setenv(name, value)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def instance(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Instance]:
    """The same installation on each database, made once per module (each row writes nothing)."""
    root = tmp_path_factory.mktemp(request.param)
    env = {"MAILPOLL_DATA_DIR": str(root / "data"), "MAILPOLL_SECRET_KEY": new_key()}
    admin_url = url = None
    if request.param == "postgresql":
        try:
            admin_url = postgres_admin_url()
        except RuntimeError as exc:
            pytest.fail(f"PostgreSQL cannot be started: {exc}", pytrace=False)
        url = env["MAILPOLL_DATABASE_URL"] = fresh_database(admin_url)
    with pytest.MonkeyPatch.context() as monkeypatch, _closing_engines(monkeypatch):
        _environment(monkeypatch, env)
        for argv in SEED:
            monkeypatch.setattr("sys.stdin", io.StringIO("seed-password\n"))
            assert main(argv) == 0
    engine = make_engine(url or f"sqlite:///{root / 'data' / 'mailpoll.db'}")
    try:
        yield Instance(env, root, engine)
    finally:
        engine.dispose()
        if admin_url is not None and url is not None:
            drop_database(admin_url, url)


def _check(code: int, out: str, err: str, row: Case, path: str) -> None:
    assert "Traceback" not in out + err
    assert code == row.code, err
    assert err.count("\n") == 1, err
    assert err.endswith("\n")
    assert err.startswith("error: " + row.error.replace("{file}", path)), err
    if row.out:
        assert out.startswith(row.out), out
    else:
        assert out == ""


Run = Callable[[Case], None]


@pytest.fixture
def run(
    instance: Instance,
    engines: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> Run:
    """Runs a row in this process and checks its answer and that nothing was written."""

    def run_row(row: Case) -> None:
        path = tmp_path / "input.json"
        if row.file is not None:
            path.write_bytes(row.file)
        env = {k: v.replace("{file}", str(path)) for k, v in row.env.items()}
        _environment(monkeypatch, instance.env, env)
        monkeypatch.setattr("sys.stdin", io.StringIO(row.stdin))
        before = instance.state()
        code = main([a.replace("{file}", str(path)) for a in row.argv])
        captured = capsys.readouterr()
        _check(code, captured.out, captured.err, row, str(path))
        assert instance.state() == before

    return run_row


@pytest.mark.parametrize("row", DATABASE_CASES.values(), ids=DATABASE_CASES.keys())
def test_input_that_reaches_the_database_is_refused_in_one_line(run: Run, row: Case) -> None:
    run(row)


@pytest.mark.parametrize("row", EARLY_CASES.values(), ids=EARLY_CASES.keys())
@pytest.mark.parametrize("instance", ["sqlite"], indirect=True)
def test_a_bad_environment_or_command_line_is_refused_in_one_line(run: Run, row: Case) -> None:
    run(row)


@pytest.mark.parametrize(
    ("argv", "stdin", "env", "error"), PROCESS_CASES.values(), ids=PROCESS_CASES.keys()
)
def test_the_installed_command_refuses_in_one_line(
    instance: Instance, argv: list[bytes], stdin: bytes, env: dict[str, str], error: str
) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MAILPOLL_")}
    before = instance.state()
    result = subprocess.run(
        [bytes(MAILPOLL), *argv], input=stdin, capture_output=True, timeout=60, check=False,
        env={**clean, **instance.env, **env},
    )  # fmt: skip
    out, err = (result.stdout.decode(errors="replace"), result.stderr.decode(errors="replace"))
    _check(result.returncode, out, err, case(error=error), "")
    assert instance.state() == before


@pytest.mark.usefixtures("engines")
def test_an_update_to_the_same_value_says_unchanged(
    instance: Instance, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _environment(monkeypatch, instance.env)
    before = instance.state()
    code = main(["accounts", "update", "support", "--host", "imap.example.com"])
    assert (code, *capsys.readouterr()) == (0, "unchanged: support\n", "")
    assert instance.state() == before
