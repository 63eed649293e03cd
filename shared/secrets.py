"""Encryption at rest of passwords and tokens, with a key from the environment or the data dir."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from shared.errors import SecretError

KEY_HELP = "MAILPOLL_SECRET_KEY must be one or more Fernet keys separated by commas"


class SecretBox:
    """Encrypts with the first key and decrypts with any, so keys can be rotated."""

    def __init__(self, keys: str) -> None:
        try:
            self._fernet = MultiFernet([Fernet(k.strip()) for k in keys.split(",") if k.strip()])
        except (ValueError, TypeError):
            raise SecretError(f"{KEY_HELP} (generate one with `mailpoll secret-key`)") from None

    def encrypt(self, clear: str) -> str:
        return self._fernet.encrypt(clear.encode()).decode()

    def decrypt(self, token: str, *, what: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise SecretError(
                f"{what} cannot be decrypted: it was stored with another MAILPOLL_SECRET_KEY"
            ) from None


def new_key() -> str:
    return Fernet.generate_key().decode()


def load_or_create_key(key_file: Path, *, may_create: bool) -> str:
    """Read the data dir's key file, creating it (mode 0600) only for a SQLite database.

    A cluster on a shared database must get one key from its environment: a key generated per
    container would make every other container's passwords unreadable.
    """
    if key_file.exists():
        return key_file.read_text().strip()
    if not may_create:
        raise SecretError(
            "MAILPOLL_SECRET_KEY is not set: a shared database needs the same key on every "
            "process (generate one with `mailpoll secret-key`)"
        )
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key = new_key()
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return key_file.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key
