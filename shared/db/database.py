"""The configuration database as mailpoll sees it: one engine and unit-of-work sessions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from shared.db import changes, migrate
from shared.db.engine import make_engine
from shared.errors import ConfigError


class Database:
    """One engine per process; `session()` commits when the block ends well, else rolls back."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        changes.install()  # every account or setting change bumps the configuration version

    def upgrade(self) -> None:
        """Bring the schema to the newest revision (safe to run from many replicas at once)."""
        try:
            migrate.upgrade(self.engine)
        except OperationalError as error:
            reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
            raise ConfigError(
                "MAILPOLL_DATABASE_URL", f"cannot open the database: {reason}"
            ) from None

    @contextmanager
    def session(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        self.engine.dispose()
