"""The composition root: builds mailpoll's parts from the settings, once per process."""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING

from mailpoll.datadir import DataDir

if TYPE_CHECKING:  # the parts are imported when first used: a command loads only its own
    from sqlmodel import Session

    from shared.accounts.service import AccountService
    from shared.db.database import Database
    from shared.secrets import SecretBox
    from shared.settings import Settings
    from shared.system_settings import SystemSettings
    from workers.credentials import CredentialSource


class App:
    """Everything a command needs, made on first use (so `--help` touches no database)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.data_dir = DataDir(settings.data_dir)

    @cached_property
    def actor(self) -> str:
        """Who is changing things, for the audit history: MAILPOLL_ACTOR, else the OS user."""
        if self.settings.actor:
            return self.settings.actor
        try:
            return getpass.getuser()
        except (KeyError, OSError):
            return f"uid:{os.getuid()}"

    @cached_property
    def database(self) -> Database:
        from shared.db.database import Database

        if self.settings.uses_embedded_database:
            self.data_dir.ensure()
        database = Database(self.settings.effective_database_url)
        database.upgrade()
        return database

    @cached_property
    def secrets(self) -> SecretBox:
        from shared.secrets import SecretBox, load_or_create_key

        if self.settings.secret_key is not None:
            return SecretBox(self.settings.secret_key.get_secret_value())
        key = load_or_create_key(
            self.settings.secret_key_file, may_create=self.settings.uses_single_machine_database
        )
        return SecretBox(key)

    @cached_property
    def credentials(self) -> CredentialSource:
        """Credentials found at connect time: passwords, keystore aliases, OAuth2 tokens."""
        from shared.keystore import default_keystore
        from workers.credentials import CredentialSource

        return CredentialSource(
            database=self.database,
            secrets=lambda: self.secrets,
            keystore=default_keystore(self.settings.effective_keystore_dir),
        )

    @contextmanager
    def accounts(self) -> Iterator[AccountService]:
        """An account service in one transaction: committed if the block ends well."""
        with self.database.session() as session:
            yield self.account_service(session)

    def account_service(self, session: Session) -> AccountService:
        from shared.accounts.service import AccountService

        return AccountService(session, secrets=lambda: self.secrets, actor=self.actor)

    @contextmanager
    def system_settings(self) -> Iterator[SystemSettings]:
        from shared.system_settings import SystemSettings

        with self.database.session() as session:
            yield SystemSettings(session, self.settings, actor=self.actor)
