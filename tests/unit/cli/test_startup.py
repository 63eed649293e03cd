"""`mailpoll` as a newcomer meets it: a fast start, where the data lives, commands that work
as printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mailpoll.app import App
from mailpoll.cli import run_output
from mailpoll.datadir import DataDir
from shared.db import migrate
from shared.db.database import Database
from shared.settings import Settings

# Libraries that cost tens to hundreds of milliseconds to import, and what needs them.
DATABASE = {"sqlalchemy", "sqlmodel", "pydantic", "pydantic_settings"}
NOT_FOR_READING = {
    "alembic", "mako",  # migrations: only when the schema is behind
    "dramatiq", "kombu", "redis", "fakeredis",  # broker, events, locks: the pipeline commands
    "imapclient", "poplib", "smtplib",  # mail servers
    "cryptography",  # secrets: only when one is read or written
}  # fmt: skip

PROBE = """
import json, sys
from mailpoll.cli.main import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def mailpoll(args: list[str], *, cwd: Path, data_dir: Path | None) -> tuple[set[str], str]:
    """Run `mailpoll ARGS` in a fresh interpreter: the top-level modules loaded, and stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILPOLL_")}
    if data_dir is not None:
        env["MAILPOLL_DATA_DIR"] = str(data_dir)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["code"] == 0, done.stderr
    return set(report["modules"]), done.stderr


def loaded(args: list[str], data_dir: Path) -> set[str]:
    return mailpoll(args, cwd=data_dir.parent, data_dir=data_dir)[0]


def test_help_loads_neither_the_database_nor_the_pipeline(tmp_path: Path) -> None:
    modules = loaded(["--help"], tmp_path / "data")
    assert modules.isdisjoint(DATABASE | NOT_FOR_READING), modules & (DATABASE | NOT_FOR_READING)
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("args", [["accounts", "list"], ["status"], ["settings", "show"]])
def test_reading_commands_on_a_current_schema_load_no_migration_broker_or_mail_library(
    tmp_path: Path, args: list[str]
) -> None:
    data_dir = tmp_path / "data"
    assert "alembic" in loaded(["accounts", "list"], data_dir)  # a new database is migrated
    modules = loaded(args, data_dir)
    assert modules.isdisjoint(NOT_FOR_READING), modules & NOT_FOR_READING


def test_schema_is_current_only_at_the_newest_revision(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'mailpoll.db'}")
    assert not migrate.is_current(database.engine)  # no version table yet
    database.upgrade()
    assert migrate.is_current(database.engine)
    migrate.downgrade(database.engine, "base")
    assert not migrate.is_current(database.engine)
    database.upgrade()  # a database that is behind is still upgraded
    assert migrate.current_revision(database.engine) == migrate.head_revision()
    database.dispose()


def test_the_newest_revision_read_from_the_files_is_alembics() -> None:
    assert migrate._head_from_files() == migrate.head_revision()


def test_a_migration_file_that_is_not_plain_literals_leaves_the_decision_to_alembic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "0001_a.py").write_text('revision = "0001"\ndown_revision = None\n')
    (versions / "0002_b.py").write_text('revision: str = "0002"\ndown_revision = ("0001",)\n')
    monkeypatch.setattr(migrate, "MIGRATIONS", tmp_path)
    assert migrate._head_from_files() == "0002"
    (versions / "0003_c.py").write_text('revision = make()\ndown_revision = "0002"\n')
    assert migrate._head_from_files() is None


def test_a_command_that_makes_the_default_data_dir_says_where_once(tmp_path: Path) -> None:
    _, first = mailpoll(["accounts", "list"], cwd=tmp_path, data_dir=None)
    assert first.startswith(f"note: created a new empty data dir {tmp_path / 'mailpoll-data'}; ")
    assert "run from that directory or set MAILPOLL_DATA_DIR" in first
    assert mailpoll(["accounts", "list"], cwd=tmp_path, data_dir=None)[1] == ""


def test_a_data_dir_given_as_an_absolute_path_is_made_without_a_note(tmp_path: Path) -> None:
    assert mailpoll(["accounts", "list"], cwd=tmp_path, data_dir=tmp_path / "data")[1] == ""


def test_a_data_dir_made_by_any_part_of_a_command_is_noted_when_it_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    data_dir = DataDir(Path("mailpoll-data"))
    data_dir.note_if_new()
    assert capsys.readouterr().err == ""  # not made (yet): nothing to say
    (tmp_path / "mailpoll-data" / "events").mkdir(parents=True)  # as `events tail` does
    data_dir.note_if_new()
    data_dir.ensure()
    assert capsys.readouterr().err.count("note: created a new empty data dir") == 1


def test_the_hint_of_run_names_the_program_and_the_data_dir_it_uses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = tmp_path / "venv" / "bin" / "mailpoll"
    program.parent.mkdir(parents=True)
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    monkeypatch.setattr(sys, "argv", [str(program), "run"])
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.chdir(tmp_path)
    app = App(Settings(data_dir=Path("mailpoll-data")))
    assert run_output.mailpoll_command(app) == (
        f"MAILPOLL_DATA_DIR={tmp_path / 'mailpoll-data'} {program}"
    )
    monkeypatch.setenv("PATH", f"{program.parent}:/usr/bin:/bin")
    app = App(Settings(data_dir=tmp_path / "elsewhere"))
    assert run_output.mailpoll_command(app) == "mailpoll"
    assert "mailpoll accounts add NAME --type inbound" in run_output.no_account_hint(app)
