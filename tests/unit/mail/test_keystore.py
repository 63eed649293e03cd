"""Keystores: directory of secret files, environment fallback, and credential resolution."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.errors import ConfigError, SecretError
from shared.keystore import (
    ChainKeystore,
    DirectoryKeystore,
    EnvironmentKeystore,
    default_keystore,
    resolve_credentials,
)
from shared.mail.client import Credentials


@pytest.fixture
def secrets_dir(tmp_path: Path) -> Path:
    (tmp_path / "imap-user").write_text("alice\n")
    (tmp_path / "imap-pass").write_text("pa ss w0rd \n\n")
    return tmp_path


def test_a_directory_keystore_reads_the_file_named_by_the_alias(secrets_dir: Path) -> None:
    store = DirectoryKeystore(secrets_dir)
    assert store.lookup("imap-user") == "alice"
    assert store.lookup("imap-pass") == "pa ss w0rd "  # only the trailing newlines go


def test_a_missing_alias_names_the_alias_only(secrets_dir: Path) -> None:
    with pytest.raises(SecretError, match="keystore alias 'nope' not found") as caught:
        DirectoryKeystore(secrets_dir).lookup("nope")
    assert "alice" not in str(caught.value)


@pytest.mark.parametrize("alias", ["../etc/passwd", "a/b", "a\\b", ".hidden", "..", ""])
def test_aliases_that_are_not_plain_file_names_are_refused(secrets_dir: Path, alias: str) -> None:
    (secrets_dir / ".hidden").write_text("x")
    with pytest.raises(SecretError, match="not a valid file name"):
        DirectoryKeystore(secrets_dir / "sub").lookup(alias)


def test_a_directory_alias_is_not_found(secrets_dir: Path) -> None:
    (secrets_dir / "folder").mkdir()
    with pytest.raises(SecretError, match="not found"):
        DirectoryKeystore(secrets_dir).lookup("folder")


def test_the_environment_keystore_upper_cases_and_replaces_punctuation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAILPOLL_ALIAS_IMAP_PASS_1", "s3cret")
    store = EnvironmentKeystore()
    assert store.variable("imap.pass-1") == "MAILPOLL_ALIAS_IMAP_PASS_1"
    assert store.lookup("imap.pass-1") == "s3cret"
    with pytest.raises(SecretError, match="MAILPOLL_ALIAS_OTHER"):
        store.lookup("other")


def test_a_chain_asks_each_store_in_turn(
    secrets_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILPOLL_ALIAS_ONLY_ENV", "from-env")
    monkeypatch.setenv("MAILPOLL_ALIAS_IMAP_USER", "shadowed")
    chain = ChainKeystore(DirectoryKeystore(secrets_dir), EnvironmentKeystore())
    assert chain.lookup("imap-user") == "alice"
    assert chain.lookup("only-env") == "from-env"
    with pytest.raises(SecretError, match="'missing' not found"):
        chain.lookup("missing")


def test_the_default_keystore_falls_back_to_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILPOLL_ALIAS_X", "env")
    assert default_keystore(tmp_path / "absent").lookup("x") == "env"
    (tmp_path / "x").write_text("file")
    assert default_keystore(tmp_path).lookup("x") == "file"


def test_local_credentials_are_taken_as_given(secrets_dir: Path) -> None:
    store = DirectoryKeystore(secrets_dir)
    assert resolve_credentials("local", "bob", "pw", None, None, store) == Credentials("bob", "pw")


def test_external_credentials_are_looked_up_by_alias(secrets_dir: Path) -> None:
    store = DirectoryKeystore(secrets_dir)
    credentials = resolve_credentials("external", None, None, "imap-user", "imap-pass", store)
    assert credentials == Credentials("alice", "pa ss w0rd ")


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("local", None, "pw", None, None), "login"),
        (("local", "bob", None, None, None), "password"),
        (("external", None, None, None, "imap-pass"), "username_key"),
        (("external", None, None, "imap-user", None), "password_key"),
        (("none", None, None, None, None), "auth_type"),
    ],
)
def test_missing_pieces_are_configuration_errors(
    secrets_dir: Path, args: tuple[str, str | None, str | None, str | None, str | None], field: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_credentials(*args, DirectoryKeystore(secrets_dir))
    assert caught.value.field == field


def test_credentials_never_show_the_password() -> None:
    credentials = Credentials("bob", "s3cret")
    assert "s3cret" not in repr(credentials)
    assert "s3cret" not in str(credentials)
    assert "s3cret" not in f"{credentials}"
