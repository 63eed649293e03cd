"""Keystores: where `external` accounts' user names and passwords are looked up by alias."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Protocol

from shared.errors import ConfigError, SecretError
from shared.mail.client import Credentials


class Keystore(Protocol):
    """Maps an alias to a secret; a missing alias raises `SecretError` naming only the alias."""

    def lookup(self, alias: str) -> str: ...


def _missing(alias: str, where: str) -> SecretError:
    return SecretError(f"keystore alias {alias!r} not found in {where}")


class DirectoryKeystore:
    """One file per alias, as container secrets are mounted (e.g. /run/secrets/<alias>)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"DirectoryKeystore({str(self.path)!r})"

    def lookup(self, alias: str) -> str:
        # An alias is a file name, never a path: no way out of the directory, no hidden files.
        if not alias or "/" in alias or "\\" in alias or alias.startswith(".") or "\0" in alias:
            raise SecretError(f"keystore alias {alias!r} is not a valid file name")
        try:
            text = (self.path / alias).read_text(encoding="utf-8")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise _missing(alias, f"directory {self.path}") from None
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
            raise SecretError(f"keystore alias {alias!r} cannot be read: {reason}") from None
        return text.rstrip("\r\n")


class EnvironmentKeystore:
    """Environment variables: alias `imap.password` is `MAILPOLL_ALIAS_IMAP_PASSWORD`.

    A prefix of its own, so that no alias can read mailpoll's settings (MAILPOLL_SECRET_KEY).
    """

    def __init__(self, prefix: str = "MAILPOLL_ALIAS_") -> None:
        self.prefix = prefix

    def __repr__(self) -> str:
        return f"EnvironmentKeystore({self.prefix!r})"

    def variable(self, alias: str) -> str:
        return self.prefix + re.sub(r"[^A-Za-z0-9]", "_", alias).upper()

    def lookup(self, alias: str) -> str:
        value = os.environ.get(self.variable(alias))
        if value is None:
            raise _missing(alias, f"environment variable {self.variable(alias)}")
        return value


class ChainKeystore:
    """Asks each store in turn; the first that knows the alias answers."""

    def __init__(self, *stores: Keystore) -> None:
        self.stores = stores

    def __repr__(self) -> str:
        return f"ChainKeystore{self.stores!r}"

    def lookup(self, alias: str) -> str:
        for store in self.stores:
            try:
                return store.lookup(alias)
            except SecretError:
                continue
        where = ", ".join(repr(store) for store in self.stores) or "an empty keystore"
        raise _missing(alias, where)


def default_keystore(directory: Path | None) -> Keystore:
    """The directory (when configured and present) first, then the environment."""
    if directory is not None and directory.is_dir():
        return ChainKeystore(DirectoryKeystore(directory), EnvironmentKeystore())
    return EnvironmentKeystore()


def resolve_credentials(
    auth_type: str,
    login: str | None,
    password: str | None,
    username_key: str | None,
    password_key: str | None,
    keystore: Keystore,
) -> Credentials:
    """The credentials to log in with: given (`local`) or looked up now (`external`).

    External aliases are resolved at connect time, never stored resolved, so a rotated secret
    takes effect at the next poll.
    """
    if auth_type == "local":
        if not login:
            raise ConfigError("login", "required for auth_type local")
        if password is None:
            raise ConfigError("password", "required for auth_type local")
        return Credentials(login, password)
    if auth_type == "external":
        if not username_key:
            raise ConfigError("username_key", "required for auth_type external")
        if not password_key:
            raise ConfigError("password_key", "required for auth_type external")
        return Credentials(keystore.lookup(username_key), keystore.lookup(password_key))
    raise ConfigError("auth_type", f"{auth_type!r} has no login and password to resolve")
