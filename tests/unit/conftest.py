"""Fixtures of the unit tests: a migrated SQLite database and an account service on it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session

from shared.accounts.service import AccountService
from shared.db.database import Database
from shared.secrets import SecretBox, new_key


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'mailpoll.db'}")
    database.upgrade()
    yield database
    database.dispose()


@pytest.fixture
def secret_box() -> SecretBox:
    return SecretBox(new_key())


@pytest.fixture
def session(database: Database) -> Iterator[Session]:
    with database.session() as session:
        yield session


@pytest.fixture
def service(session: Session, secret_box: SecretBox) -> AccountService:
    return AccountService(
        session,
        secrets=lambda: secret_box,
        actor="tester",
        clock=lambda: datetime(2026, 11, 25, 12, 0, tzinfo=UTC),
    )
