"""Schema migrations on SQLite and on a real PostgreSQL: upgrade, downgrade, models in step."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from shared.accounts.service import AccountService
from shared.db import migrate
from shared.db.database import Database
from shared.errors import ConfigError
from shared.secrets import SecretBox, new_key

pytestmark = pytest.mark.integration
TABLES = {
    "email_accounts",
    "system_settings",
    "audit_history",
    "folder_states",
    "received_messages",
    "account_status",
    "dead_letters",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'mailpoll.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    database = Database(url)
    yield database
    database.dispose()


def test_upgrade_creates_every_table_and_is_idempotent(database: Database) -> None:
    database.upgrade()
    database.upgrade()
    assert set(sa.inspect(database.engine).get_table_names()) >= TABLES
    assert migrate.current_revision(database.engine) == migrate.head_revision()


def test_the_migrations_match_the_models(database: Database) -> None:
    database.upgrade()
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []


def test_downgrade_removes_everything_and_upgrade_restores_it(database: Database) -> None:
    database.upgrade()
    migrate.downgrade(database.engine, "base")
    assert not TABLES & set(sa.inspect(database.engine).get_table_names())
    database.upgrade()
    assert set(sa.inspect(database.engine).get_table_names()) >= TABLES


def test_accounts_round_trip_and_one_outbound_is_enforced(database: Database) -> None:
    database.upgrade()
    box = SecretBox(new_key())
    relay = {"name": "relay", "type": "outbound", "host": "smtp.example.com", "auth_type": "none"}
    with database.session() as session:
        service = AccountService(session, secrets=lambda: box, actor="t")
        service.add({"name": "in", "type": "inbound", "host": "h", "login": "u", "password": "pw"})
        service.add({**relay, "process_after": None})
        service.add({**relay, "name": "relay2", "enabled": False})
    with database.session() as session:
        service = AccountService(session, secrets=lambda: box, actor="t")
        assert service.password_of(service.get("in")) == "pw"
        with pytest.raises(ConfigError, match="'relay'"):
            service.set_enabled("relay2", True)
    with pytest.raises(IntegrityError), database.engine.begin() as connection:
        connection.execute(sa.text("UPDATE email_accounts SET enabled = true"))


def test_date_times_come_back_in_utc(database: Database) -> None:
    database.upgrade()
    moment = datetime(2026, 11, 1, 8, 30, tzinfo=UTC)
    with database.session() as session:
        service = AccountService(session, secrets=lambda: SecretBox(new_key()), actor="t")
        given = {"name": "in", "type": "inbound", "host": "h", "login": "u"}
        service.add({**given, "process_after": "2026-11-01T10:30:00+02:00"})
    with database.session() as session:
        service = AccountService(session, secrets=lambda: SecretBox(new_key()), actor="t")
        stored = service.get("in").process_after
        assert stored is not None
        assert stored.replace(tzinfo=stored.tzinfo or UTC) == moment
        assert service.update("in", {"process_after": moment.isoformat()}).action == "unchanged"


def test_a_database_that_cannot_be_reached_is_one_clear_error() -> None:
    database = Database("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(ConfigError, match=r"^MAILPOLL_DATABASE_URL: cannot open the database"):
        database.upgrade()
