"""Process settings from the environment (prefix MAILPOLL_), read once at the entry points."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.errors import ConfigError

# The URL schemes each setting can be served by, with an example for the error message.
URL_SCHEMES: dict[str, tuple[tuple[str, ...], str]] = {
    "database_url": (
        ("sqlite", "postgresql", "postgres", "postgresql+psycopg"),
        "postgresql://mailpoll@db.example.com:5432/mailpoll or sqlite:////srv/mailpoll.db",
    ),
    "redis_url": (("redis", "rediss", "unix"), "redis://localhost:6379/0"),
    # Dramatiq's brokers: RabbitMQ (several URLs may be joined with ';') or Redis.
    "broker_url": (
        ("amqp", "amqps", "redis", "rediss", "unix"),
        "amqp://guest:guest@localhost:5672// or redis://localhost:6379/0",
    ),
    # kombu's transports that mailpoll ships the clients of.
    "events_url": (
        ("amqp", "amqps", "pyamqp", "redis", "rediss"),
        "amqp://guest:guest@localhost:5672// or redis://localhost:6379/1",
    ),
}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class Settings(BaseSettings):
    """The MAILPOLL_* variables of the README, with the embedded defaults of one machine.

    A wrong value raises ConfigError naming the variable (a password in a URL is masked).
    """

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
    actor: str | None = Field(default=None, max_length=200)  # the audit history's column
    log_level: str = "INFO"
    # How long a killed worker's account lock outlives it; renewed every third of it, so a
    # killed worker's account is polled again within about this long.
    lock_ttl_seconds: float = Field(default=15.0, ge=3.0)
    # Processes that parse messages beside each worker process (0: parse in the poll's thread).
    parse_processes: int = Field(default=0, ge=0, le=64)
    # The admin API (`mailpoll web`, and `mailpoll run`): loopback unless told otherwise.
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8080, ge=1, le=65535)
    # A browser session ends after this long without a request, and this long after sign-in.
    web_session_idle_minutes: int = Field(default=30, ge=1, le=7 * 24 * 60)
    web_session_hours: int = Field(default=12, ge=1, le=30 * 24)
    # The largest request body the admin API reads (an import of many accounts is the biggest).
    web_max_body_mb: int = Field(default=16, ge=1, le=1024)
    # Proxies (comma-separated addresses or networks) whose X-Forwarded-For/-Proto are
    # believed: sign-in throttling then counts the client's address, not the proxy's.
    web_trusted_proxies: str = ""
    # /metrics, /healthz and /readyz of a worker, scheduler, watcher, web or run: off unless set.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_host: str = "0.0.0.0"  # noqa: S104  (Prometheus and the kubelet probe from outside)

    @field_validator("database_url", "redis_url", "broker_url", "events_url")
    @classmethod
    def _known_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        """Refuse at start what would otherwise fail later, deep in a library, over and over."""
        if value is None:
            return None
        schemes, example = URL_SCHEMES[str(info.field_name)]
        parts = value.split(";") if info.field_name == "broker_url" else [value]
        if not all(_is_url(part, schemes) for part in parts):
            raise ConfigError(
                _variable(info), f"must be a URL like {example} (got {mask_password(value)!r})"
            )
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str, info: ValidationInfo) -> str:
        if value.upper() not in LOG_LEVELS:
            levels = ", ".join(LOG_LEVELS)
            raise ConfigError(_variable(info), f"must be one of {levels} (got {value!r})")
        return value

    @field_validator("data_dir", "upload_dir", "keystore_dir")
    @classmethod
    def _directory(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is not None and value.exists() and not value.is_dir():
            raise ConfigError(_variable(info), f"{str(value)!r} is not a directory")
        return value

    @property
    def effective_database_url(self) -> str:
        """The configured database, else a SQLite file in the data dir."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'mailpoll.db').resolve()}"

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url is None

    @property
    def uses_single_machine_database(self) -> bool:
        """SQLite, the default file or one named by MAILPOLL_DATABASE_URL: one machine's
        database, which may generate its own key file in the data dir."""
        return self.effective_database_url.startswith("sqlite")

    @property
    def effective_upload_dir(self) -> Path:
        return self.upload_dir or self.data_dir / "uploads"

    @property
    def effective_keystore_dir(self) -> Path:
        return self.keystore_dir or self.data_dir / "keystore"

    @property
    def secret_key_file(self) -> Path:
        return self.data_dir / "secret.key"


def _variable(info: ValidationInfo) -> str:
    return f"MAILPOLL_{str(info.field_name).upper()}"


def _is_url(text: str, schemes: tuple[str, ...]) -> bool:
    scheme, separator, _ = text.strip().partition("://")
    if not separator or scheme not in schemes:
        return False
    try:
        urlsplit(text.strip()).port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        return False
    return True


def mask_password(url: str) -> str:
    """The URL with any password replaced by ***, for messages."""
    return re.sub(r"(:)[^:@/]*@", r"\1***@", url)
