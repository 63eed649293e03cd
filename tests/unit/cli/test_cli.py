"""The `mailpoll` command as users and scripts see it: output, exit codes, nothing half-written."""

from __future__ import annotations

import io
import json
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import pytest
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlmodel import select

from mailpoll.app import App
from mailpoll.cli.main import cli, main
from shared.db import migrate
from shared.db.database import Database
from shared.db.models import Account, DeadLetter
from shared.errors import SecretError
from shared.secrets import new_key
from shared.settings import Settings

PASSWORD = "cli-password-never-shown"
ADD_SUPPORT = ["accounts", "add", "support", "--type", "inbound", "--host", "imap.example.com"]


class Run:
    """Runs `mailpoll` in-process with a data dir of its own and returns (code, out, err)."""

    def __init__(self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
        self.capsys = capsys
        self.monkeypatch = monkeypatch

    def __call__(self, *argv: str, stdin: str = "") -> tuple[int, str, str]:
        self.monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = main(list(argv))
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err

    def json(self, *argv: str) -> Any:
        code, out, err = self(*argv, "--json")
        assert code == 0, err
        return json.loads(out)


@pytest.fixture
def run(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    for name in ("DATABASE_URL", "SECRET_KEY", "REDIS_URL", "UPLOAD_DIR", "ACTOR"):
        monkeypatch.delenv(f"MAILPOLL_{name}", raising=False)
    monkeypatch.setenv("MAILPOLL_DATA_DIR", str(tmp_path / "data"))
    return Run(capsys, monkeypatch)


def add_support(run: Run, *extra: str) -> None:
    code, _, err = run(*ADD_SUPPORT, "--login", "u", "--password-stdin", *extra, stdin=PASSWORD)
    assert code == 0, err


def test_add_list_show_never_print_the_password(run: Run, tmp_path: Path) -> None:
    add_support(run)
    listed = run.json("accounts", "list")
    assert [a["name"] for a in listed] == ["support"]
    shown = run.json("accounts", "show", "support")
    assert shown["password"] == "(set)"
    assert shown["port"] == 993
    _, out, _ = run("accounts", "show", "support")
    assert "(set)" in out
    everything = json.dumps([listed, shown]) + out
    assert PASSWORD not in everything
    database = (tmp_path / "data" / "mailpoll.db").read_bytes()
    assert PASSWORD.encode() not in database


def test_the_generated_key_file_is_private(run: Run, tmp_path: Path) -> None:
    add_support(run)
    key_file = tmp_path / "data" / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_a_key_from_the_environment_is_used_and_no_file_is_written(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILPOLL_SECRET_KEY", new_key())
    add_support(run)
    assert not (tmp_path / "data" / "secret.key").exists()


def test_an_explicit_sqlite_database_gets_its_key_file_like_the_default_one(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILPOLL_DATABASE_URL", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    add_support(run)
    assert [a["name"] for a in run.json("accounts", "list")] == ["support"]
    key_file = tmp_path / "data" / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_a_shared_database_without_a_key_is_a_clear_error(tmp_path: Path) -> None:
    settings = Settings(
        database_url="postgresql://mailpoll@db.example.com/mailpoll", data_dir=tmp_path / "data"
    )
    with pytest.raises(SecretError, match="MAILPOLL_SECRET_KEY is not set"):
        App(settings).secrets  # noqa: B018  (the property is what is tested)
    assert not (tmp_path / "data" / "secret.key").exists()


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (["--port", "0"], "port"),
        (["--folder", "../../etc"], "folder"),
        (["--test-to", "a@example.com"], "test_to"),
        (["--property", "bogus=1"], "properties"),
        (["--max-batch", "lots"], "max_batch"),
        (["--protocol", "pop3", "--on-email-received", "move"], "on_email_received"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(
    run: Run, argv: list[str], field: str
) -> None:
    code, out, err = run(*ADD_SUPPORT, "--login", "u", *argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"error: {field}: ")
    assert run.json("accounts", "list") == []
    assert run.json("accounts", "history", "support") == []


def test_usage_errors_are_one_line_too(run: Run) -> None:
    code, _, err = run("accounts", "add", "x", "--colour", "red")
    assert code == 2
    assert err.startswith("error: No such option '--colour'.")
    assert err.count("\n") == 1


def test_unknown_account_is_exit_2(run: Run) -> None:
    code, _, err = run("accounts", "show", "ghost")
    assert (code, err) == (2, "error: no email account named 'ghost'\n")


def test_update_enable_disable_and_history(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILPOLL_ACTOR", "alice@ops")
    add_support(run)
    assert run("accounts", "update", "support", "--polling-interval", "30")[0] == 0
    assert run("accounts", "disable", "support")[1] == "disabled: support\n"
    assert run("accounts", "enable", "support")[1] == "enabled: support\n"
    history = run.json("accounts", "history", "support")
    assert [h["action"] for h in history] == ["created", "updated", "disabled", "enabled"]
    assert history[1]["changes"] == {"polling_interval": [None, 30]}
    assert {h["actor"] for h in history} == {"alice@ops"}
    assert run.json("accounts", "show", "support")["modified_by"] == "alice@ops"


def test_property_edits_merge_and_remove(run: Run) -> None:
    add_support(run, "--property", "timeout=5", "--property", "tls_verify=false")
    run("accounts", "update", "support", "--property", "timeout=", "--property", "fetch_chunk=50")
    shown = run.json("accounts", "show", "support")
    assert shown["properties"] == "fetch_chunk=50\ntls_verify=false"


def test_the_second_outbound_account_is_refused_by_name(run: Run) -> None:
    relay = ["--type", "outbound", "--host", "smtp.example.com", "--auth-type", "none"]
    assert run("accounts", "add", "relay", *relay)[0] == 0
    code, _, err = run("accounts", "add", "relay2", *relay)
    assert code == 2
    assert "'relay' is already enabled" in err
    assert run("accounts", "add", "relay2", *relay, "--disabled")[0] == 0
    assert run("accounts", "enable", "relay2")[0] == 2


def test_export_import_between_instances(run: Run, tmp_path: Path) -> None:
    add_support(run, "--protect-during-import")
    export = tmp_path / "accounts.json"
    assert run("accounts", "export", "--file", str(export))[0] == 0
    assert stat.S_IMODE(export.stat().st_mode) == 0o600
    assert PASSWORD not in export.read_text()
    document = json.loads(export.read_text())
    document["accounts"][0]["host"] = "changed.example.com"
    document["accounts"].append({"name": "new", "type": "inbound", "host": "h", "login": "u"})
    export.write_text(json.dumps(document))
    report = run.json("accounts", "import", str(export))
    assert (report["created"], report["skipped_protected"]) == (["new"], ["support"])
    assert run.json("accounts", "show", "support")["host"] == "imap.example.com"


def test_a_refused_import_writes_nothing(run: Run, tmp_path: Path) -> None:
    incoming = tmp_path / "in.json"
    accounts = [
        {"name": "good", "type": "inbound", "host": "h", "login": "u"},
        {"name": "bad", "type": "inbound", "host": "h", "login": "u", "folder": ".."},
    ]
    incoming.write_text(json.dumps({"accounts": accounts}))
    code, out, _ = run("accounts", "import", str(incoming))
    assert code == 2
    assert "refused: bad: folder: '..' must not contain" in out
    assert run.json("accounts", "list") == []
    assert run("accounts", "import", str(incoming), "--dry-run")[0] == 2
    accounts.pop()
    incoming.write_text(json.dumps({"accounts": accounts}))
    assert run("accounts", "import", str(incoming), "--dry-run")[0] == 0
    assert run.json("accounts", "list") == []


def test_import_of_a_file_that_is_not_json(run: Run, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{nope")
    code, _, err = run("accounts", "import", str(broken))
    assert code == 2
    assert err.startswith(f"error: {broken}: not valid JSON")


def test_settings_show_set_and_precedence(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILPOLL_DEFAULT_POLL_INTERVAL", "90")
    shown = run.json("settings", "show")
    assert shown["default_polling_interval"] == {"value": "90", "source": "environment"}
    assert shown["system_email_address"] == {"value": None, "source": "unset"}
    assert run("settings", "set", "default_polling_interval", "45")[0] == 0
    assert run("settings", "set", "system_email_address", "mailpoll@example.com")[0] == 0
    shown = run.json("settings", "show")
    assert shown["default_polling_interval"] == {"value": "45", "source": "database"}
    assert shown["system_email_address"]["value"] == "mailpoll@example.com"
    assert run("settings", "set", "default_polling_interval", "")[0] == 0
    assert run.json("settings", "show")["default_polling_interval"]["source"] == "environment"
    assert len(run.json("settings", "history", "default_polling_interval")) == 2


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("colour", "red", "error: setting: unknown key 'colour'"),
        ("feedback_email_address", "not an address", "error: feedback_email_address: "),
        ("default_polling_interval", "0", "error: default_polling_interval: "),
        (
            "default_polling_interval",
            "99999999999",
            "error: default_polling_interval: must be between 1 and 604800 seconds",
        ),
        ("default_polling_interval", "1m", "error: default_polling_interval: must be a whole"),
    ],
)
def test_bad_settings_are_refused(run: Run, key: str, value: str, message: str) -> None:
    code, _, err = run("settings", "set", key, value)
    assert code == 2
    assert err.startswith(message)


def test_db_upgrade_and_status(run: Run) -> None:
    head = migrate.head_revision()
    assert run("db", "upgrade")[1] == f"schema at revision {head}\n"
    assert run("db", "status")[1] == f"database: {head}\nexpected: {head}\n"


def test_secret_key_prints_a_usable_key(run: Run) -> None:
    key = run("secret-key")[1].strip()
    assert len(key) == 44


def test_a_bad_environment_value_is_one_line(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILPOLL_DEFAULT_POLL_INTERVAL", "soon")
    code, _, err = run("accounts", "list")
    assert code == 2
    assert err.startswith("error: MAILPOLL_DEFAULT_POLL_INTERVAL: ")


def test_every_command_and_option_has_help() -> None:
    def walk(command: click.Command, path: str) -> list[str]:
        missing = [] if (command.help or command.short_help) else [path]
        for param in command.params:
            if isinstance(param, click.Option) and not param.help:
                missing.append(f"{path} {param.opts[0]}")
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                missing += walk(sub, f"{path} {name}")
        return missing

    assert walk(cli, "mailpoll") == []


def test_an_update_that_changes_nothing_says_unchanged(run: Run) -> None:
    add_support(run)
    code, out, err = run("accounts", "update", "support", "--host", "imap.example.com")
    assert (code, out, err) == (0, "unchanged: support\n", "")
    assert [h["action"] for h in run.json("accounts", "history", "support")] == ["created"]


@pytest.mark.parametrize(
    ("field", "value", "most"),
    [
        ("polling-interval", "99999999999", "604800 seconds"),
        ("max-batch", "99999999999", "100000 messages"),
        ("ignore-older-than-hours", "99999999999", "876600 hours"),
    ],
)
def test_huge_numbers_are_refused_with_the_bound(
    run: Run, field: str, value: str, most: str
) -> None:
    add_support(run)
    code, out, err = run("accounts", "update", "support", f"--{field}", value)
    name = field.replace("-", "_")
    assert (code, out, err) == (2, "", f"error: {name}: must be at most {most} (got {value})\n")


@pytest.mark.parametrize(
    ("error", "code", "line"),
    [
        (DataError("UPDATE", {}, Exception("integer out of range")), 2,
         "error: database: refused a value: integer out of range\n"),
        (IntegrityError("INSERT", {}, Exception("duplicate key\nDETAIL: x")), 2,
         "error: database: refused a value: duplicate key\n"),
        (OperationalError("SELECT", {}, Exception("server closed the connection")), 1,
         "error: database: server closed the connection\n"),
    ],
)  # fmt: skip
def test_a_database_error_that_slips_through_is_one_line(
    run: Run, monkeypatch: pytest.MonkeyPatch, error: Exception, code: int, line: str
) -> None:
    def broken(_: object) -> None:
        raise error

    monkeypatch.setattr("shared.accounts.service.AccountService.list", broken)
    assert run("accounts", "list") == (code, "", line)


def test_an_import_file_with_a_byte_order_mark_is_read(run: Run, tmp_path: Path) -> None:
    incoming = tmp_path / "bom.json"
    entry = {"name": "new", "type": "inbound", "host": "h", "login": "u"}
    incoming.write_bytes(b"\xef\xbb\xbf" + json.dumps({"version": 1, "accounts": [entry]}).encode())
    assert run.json("accounts", "import", str(incoming))["created"] == ["new"]


@pytest.mark.parametrize("encoding", ["utf-16", "latin-1"])
def test_an_import_file_that_is_not_utf8_is_one_line(
    run: Run, tmp_path: Path, encoding: str
) -> None:
    incoming = tmp_path / "in.json"
    incoming.write_text('{"accounts": [{"name": "Zoë"}]}', encoding=encoding)
    code, out, err = run("accounts", "import", str(incoming))
    assert (code, out, err) == (2, "", f"error: {incoming}: not UTF-8 text: save it as UTF-8\n")


def test_an_import_of_an_unknown_version_is_refused(run: Run, tmp_path: Path) -> None:
    incoming = tmp_path / "in.json"
    incoming.write_text('{"version": 2, "accounts": []}')
    code, out, err = run("accounts", "import", str(incoming))
    message = "error: version: 2 is not understood: this mailpoll reads version 1\n"
    assert (code, out, err) == (2, "", message)


def test_an_import_lists_every_problem_and_ends_with_one_error_line(
    run: Run, tmp_path: Path
) -> None:
    incoming = tmp_path / "in.json"
    bad = {"name": "bad", "type": "inbound", "host": "h", "login": "u", "port": 0, "folder": ".."}
    incoming.write_text(json.dumps({"version": 1, "accounts": [bad]}))
    code, out, err = run("accounts", "import", str(incoming))
    assert code == 2
    assert out.splitlines() == [
        "refused: bad: folder: '..' must not contain empty, '.' or '..' parts",
        "refused: bad: port: must be between 1 and 65535 (got 0)",
    ]
    assert err.count("\n") == 1
    assert err.startswith("error: import: 2 problem(s), nothing written")


def test_a_dry_run_import_shows_each_updated_field(run: Run, tmp_path: Path) -> None:
    add_support(run)
    incoming = tmp_path / "in.json"
    entry = {
        "name": "support", "type": "inbound", "host": "new.example.com", "login": "u",
        "password": "another",
    }  # fmt: skip
    incoming.write_text(json.dumps({"version": 1, "accounts": [entry]}))
    code, out, _ = run("accounts", "import", str(incoming), "--dry-run")
    assert code == 0
    assert out.splitlines() == [
        "updated: support",
        "  host: imap.example.com -> new.example.com",
        "  password: (set) -> (changed)",
    ]
    report = run.json("accounts", "import", str(incoming), "--dry-run")
    assert report["changes"] == {
        "support": {"host": ["imap.example.com", "new.example.com"],
                    "password": ["(set)", "(changed)"]}
    }  # fmt: skip
    assert (report["written"], report["updated"]) == (False, ["support"])
    assert run.json("accounts", "show", "support")["host"] == "imap.example.com"


def test_an_import_refuses_the_new_outbound_account_by_name(run: Run, tmp_path: Path) -> None:
    relay = ["--type", "outbound", "--host", "smtp.example.com", "--auth-type", "none"]
    assert run("accounts", "add", "zz-relay", *relay)[0] == 0
    incoming = tmp_path / "in.json"
    entry = {"name": "aa-new", "type": "outbound", "host": "smtp.example.com", "auth_type": "none"}
    incoming.write_text(json.dumps({"version": 1, "accounts": [entry]}))
    code, out, _ = run("accounts", "import", str(incoming))
    assert code == 2
    assert out.startswith("refused: aa-new: enabled: outbound account 'zz-relay' is already")


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["--process-after", "tomorrow"], "error: process_after: not a date-time: use ISO 8601 "
         "like 2026-11-23T10:00:00Z (got 'tomorrow')"),
        (["--polling-interval", "1m"],
         "error: polling_interval: must be a whole number of seconds (got '1m')"),
        (["--max-batch", "lots"],
         "error: max_batch: must be a whole number of messages (got 'lots')"),
        (["--property", "timeout=abc"], "error: properties: timeout='abc': must be a number of "
         "seconds greater than 0 and at most 604800"),
    ],
)  # fmt: skip
def test_a_value_of_the_wrong_form_says_the_expected_form(
    run: Run, argv: list[str], line: str
) -> None:
    add_support(run)
    assert run("accounts", "update", "support", *argv) == (2, "", line + "\n")


def add_dead_letters(tmp_path: Path, count: int) -> list[int]:
    """Dead letters of the account `support`, as the poll leaves them."""
    database = Database(f"sqlite:///{tmp_path / 'data' / 'mailpoll.db'}")
    now = datetime(2026, 11, 25, tzinfo=UTC)
    with database.session() as session:
        account_id = session.exec(select(Account.id).where(Account.name == "support")).one()
        letters = [
            DeadLetter(account_id=account_id, folder="INBOX", uidvalidity=1, uid=uid,
                       error="too big", first_failed_at=now, last_failed_at=now, dead=True)
            for uid in range(1, count + 1)
        ]  # fmt: skip
        session.add_all(letters)
        session.flush()
        ids = [letter.id for letter in letters if letter.id is not None]
    database.dispose()
    return ids


def test_replaying_an_unknown_dead_letter_changes_nothing(run: Run, tmp_path: Path) -> None:
    add_support(run)
    known = add_dead_letters(tmp_path, 2)
    code, out, err = run("dead-letters", "replay", str(known[0]), "99999")
    assert (code, out, err) == (2, "", "error: id: no dead letter with id 99999\n")
    code, _, err = run("dead-letters", "replay", "99999999999999999999999")
    assert (code, err) == (2, "error: id: no dead letter with id 99999999999999999999999\n")
    assert {row["state"] for row in run.json("dead-letters", "list")} == {"dead"}
    code, out, _ = run("dead-letters", "replay", *map(str, known))
    assert (code, out) == (0, "2 dead letter(s) will be tried again at the next poll\n")
    code, out, _ = run("dead-letters", "replay", str(known[0]))
    assert (
        out == "0 dead letter(s) will be tried again at the next poll (1 already waiting for it)\n"
    )
