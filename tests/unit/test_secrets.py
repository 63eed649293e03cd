"""Encryption at rest: keys from the environment or a private file, rotation, clear errors."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from shared.errors import SecretError
from shared.secrets import SecretBox, load_or_create_key, new_key


def test_round_trip_and_no_clear_text() -> None:
    box = SecretBox(new_key())
    token = box.encrypt("hunter2")
    assert "hunter2" not in token
    assert box.decrypt(token, what="x") == "hunter2"


def test_rotation_reads_old_tokens_and_writes_with_the_new_key() -> None:
    old, new = new_key(), new_key()
    token = SecretBox(old).encrypt("pw")
    rotated = SecretBox(f"{new},{old}")
    assert rotated.decrypt(token, what="x") == "pw"
    assert SecretBox(new).decrypt(rotated.encrypt("pw"), what="x") == "pw"


def test_a_wrong_key_is_a_clear_error_without_the_secret() -> None:
    token = SecretBox(new_key()).encrypt("pw")
    with pytest.raises(SecretError, match="support: password cannot be decrypted") as caught:
        SecretBox(new_key()).decrypt(token, what="support: password")
    assert "pw" not in str(caught.value).replace("password", "")


def test_a_malformed_key_is_refused() -> None:
    with pytest.raises(SecretError, match="Fernet keys"):
        SecretBox("not-a-key")


def test_the_key_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    key_file = tmp_path / "data" / "secret.key"
    first = load_or_create_key(key_file, may_create=True)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert load_or_create_key(key_file, may_create=True) == first


def test_no_key_file_is_made_for_a_shared_database(tmp_path: Path) -> None:
    with pytest.raises(SecretError, match="MAILPOLL_SECRET_KEY is not set"):
        load_or_create_key(tmp_path / "secret.key", may_create=False)
    assert not (tmp_path / "secret.key").exists()
