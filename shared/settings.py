"""Process settings from the environment (prefix MAILPOLL_), read once at the entry points."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """What CONTRACT.md lists, with the embedded defaults of a single-machine install."""

    model_config = SettingsConfigDict(env_prefix="MAILPOLL_", extra="ignore")

    database_url: str | None = None
    redis_url: str | None = None
    broker_url: str | None = None
    events_url: str | None = None
    data_dir: Path = Path("mailpoll-data")
    upload_dir: Path | None = None
    secret_key: SecretStr | None = None
    default_poll_interval: int = Field(default=60, ge=1)
    keystore_dir: Path | None = None
    actor: str | None = None
    log_level: str = "INFO"
    # How long a killed worker's account lock outlives it; renewed every third of it.
    lock_ttl_seconds: float = Field(default=60.0, ge=3.0)
    # Processes that parse messages beside each worker process (0: parse in the poll's thread).
    parse_processes: int = Field(default=0, ge=0, le=64)

    @property
    def effective_database_url(self) -> str:
        """The configured database, else a SQLite file in the data dir."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'mailpoll.db').resolve()}"

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url is None

    @property
    def effective_upload_dir(self) -> Path:
        return self.upload_dir or self.data_dir / "uploads"

    @property
    def effective_keystore_dir(self) -> Path:
        return self.keystore_dir or self.data_dir / "keystore"

    @property
    def secret_key_file(self) -> Path:
        return self.data_dir / "secret.key"
