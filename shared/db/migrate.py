"""Schema migrations with Alembic, run from code: on start and by `mailpoll db upgrade`.

Alembic is imported only when a migration has to run: a command on an up-to-date database
checks its revision with one query (`is_current`) and starts without it.
"""

from __future__ import annotations

import ast
import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import exc, text
from sqlalchemy.engine import Connection, Engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
# Any fixed number: every mailpoll process that upgrades a PostgreSQL schema takes this lock,
# so that replicas starting together run each migration once.
_PG_LOCK_ID = 0x6D61696C706F6C6C  # "mailpoll"


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def is_current(engine: Engine) -> bool:
    """True when the database is at the newest revision: one query, no Alembic."""
    head = _head_from_files()
    if head is None:
        return False
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except exc.DBAPIError:  # no version table yet, or no database: the upgrade says which
        return False
    return [row[0] for row in rows] == [head]


def _head_from_files() -> str | None:
    """The one revision no migration file names as its parent, read from the files' literal
    `revision` and `down_revision`; None when a file is not that simple (Alembic decides)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("[!_]*.py"):
        values = _literals(path)
        revision, parent = values.get("revision"), values.get("down_revision", ...)
        if not isinstance(revision, str) or parent is ...:
            return None
        revisions.add(revision)
        if isinstance(parent, str):
            parents.add(parent)
        elif isinstance(parent, tuple | list):
            parents.update(str(p) for p in parent)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _literals(path: Path) -> dict[str, object]:
    """A module's top-level `name = <literal>` assignments (annotated ones too)."""
    found: dict[str, object] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name):
            with contextlib.suppress(ValueError):
                found[target.id] = ast.literal_eval(value)
    return found


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision`; a no-op when it is there already."""
    if revision == "head" and is_current(engine):
        return
    from alembic import command

    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_LOCK_ID})
        command.upgrade(alembic_config(connection), revision)


def downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), revision)
