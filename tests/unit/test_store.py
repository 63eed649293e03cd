"""The .eml store: hostile folder names stay inside, writes are atomic, re-saves idempotent."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from shared.errors import StoreError
from shared.store import MAX_FOLDER_BYTES, MessageStore, safe_folder_name

DAY = date(2026, 11, 23)

HOSTILE = [
    "../../etc",
    "/abs",
    "a/b",
    "..",
    ".",
    "...",
    ".hidden",
    "\x00",
    "a\x00b",
    "back\\slash",
    "..\\..\\windows",
    "tab\there",
    "line\nbreak",
    "trailing.",
    "trailing ",
    "C:evil",
    "%2F",
    "\u202eright-to-left",
    "\udcff",
    "x" * 300,
    "ü" * 300,
    "/" * 300,
    ".." + "/.." * 100,
]


@pytest.fixture
def store(tmp_path: Path) -> MessageStore:
    return MessageStore(tmp_path / "uploads")


@pytest.mark.parametrize("folder", HOSTILE)
def test_hostile_folder_names_stay_one_component_inside_the_day(
    store: MessageStore, folder: str
) -> None:
    name = safe_folder_name(folder)
    assert name not in ("", ".", "..")
    assert not name.startswith(".")
    assert not name.endswith((".", " "))
    assert not {"/", "\\", "\x00"} & set(name)
    assert len(name.encode("utf-8")) <= MAX_FOLDER_BYTES + 2
    relative = store.path_for(DAY, folder, "m1")
    assert relative == f"default/in/20261123/{name}/m1.eml"
    target = store.absolute(relative).resolve()
    assert target.parent.parent == (store.upload_dir / "default/in/20261123").resolve()


@pytest.mark.parametrize("folder", HOSTILE)
def test_hostile_folder_names_can_really_be_written(store: MessageStore, folder: str) -> None:
    relative = store.path_for(DAY, folder, "m1")
    store.save(relative, b"x")
    written = [p for p in store.upload_dir.rglob("*") if p.is_file()]
    assert written == [store.absolute(relative)]


def test_ordinary_names_stay_readable() -> None:
    assert safe_folder_name("INBOX") == "INBOX"
    assert safe_folder_name("Entwürfe") == "Entwürfe"
    assert safe_folder_name("INBOX.Archiv 2026") == "INBOX.Archiv 2026"
    assert safe_folder_name("邮件") == "邮件"


def test_specials_are_percent_encoded() -> None:
    assert safe_folder_name("a/b") == "a%2Fb"
    assert safe_folder_name("..") == "%2E%2E"
    assert safe_folder_name(".") == "%2E"
    assert safe_folder_name("../../etc") == "%2E.%2F..%2Fetc"
    assert safe_folder_name("\x00") == "%00"
    assert safe_folder_name("100%") == "100%25"


def test_distinct_folders_get_distinct_names() -> None:
    folders = [*HOSTILE, "a%2Fb", "a_b", "A/B", "%2E", "x" * 301, "x" * 299 + "y"]
    names = [safe_folder_name(f) for f in folders]
    assert len(set(names)) == len(set(folders))
    assert [safe_folder_name(f) for f in folders] == names


def test_long_names_are_cut_with_a_hash_of_the_whole_name() -> None:
    name = safe_folder_name("x" * 300)
    assert len(name.encode()) <= MAX_FOLDER_BYTES
    assert name.startswith("x" * 100)
    assert name != safe_folder_name("x" * 301)


def test_cut_never_splits_an_escape_or_a_character() -> None:
    for folder in ["/" * 300, "ü" * 300, "a" + "/" * 299]:
        stem = safe_folder_name(folder).rsplit("~", 1)[0]
        assert re.fullmatch(r"(?:[^%]|%[0-9A-F]{2})+", stem)


def test_empty_folder_is_refused() -> None:
    with pytest.raises(ValueError, match="folder"):
        safe_folder_name("")


@pytest.mark.parametrize("name", ["", "../x", "a/b", ".hidden", "a b", "x" * 200])
def test_unsafe_message_names_are_refused(store: MessageStore, name: str) -> None:
    with pytest.raises(ValueError, match="name"):
        store.path_for(DAY, "INBOX", name)


@pytest.mark.parametrize("path", ["/etc/passwd", "../x.eml", "a/../../x.eml", "", "a\\..\\b"])
def test_paths_outside_the_upload_dir_are_refused(store: MessageStore, path: str) -> None:
    with pytest.raises(ValueError, match="upload directory"):
        store.save(path, b"x")


def test_save_returns_hash_and_size_and_writes_exact_bytes(store: MessageStore) -> None:
    raw = b"Subject: hi\r\n\r\nbody\r\n"
    relative = store.path_for(DAY, "INBOX", "m1")
    assert store.save(relative, raw) == (hashlib.sha256(raw).hexdigest(), len(raw))
    assert store.absolute(relative).read_bytes() == raw


def test_save_streams_chunks(store: MessageStore) -> None:
    chunks = [os.urandom(64 * 1024) for _ in range(40)]
    relative = store.path_for(DAY, "INBOX", "big")
    digest, size = store.save(relative, iter(chunks))
    raw = b"".join(chunks)
    assert (digest, size) == (hashlib.sha256(raw).hexdigest(), len(raw))
    assert store.absolute(relative).read_bytes() == raw


def test_resaving_the_same_message_is_idempotent(store: MessageStore) -> None:
    relative = store.path_for(DAY, "INBOX", "m1")
    first = store.save(relative, b"same bytes")
    inode = store.absolute(relative).stat().st_ino
    assert store.save(relative, [b"same ", b"bytes"]) == first
    assert store.absolute(relative).stat().st_ino == inode
    assert sorted(p.name for p in store.absolute(relative).parent.iterdir()) == ["m1.eml"]


def test_resaving_different_bytes_replaces_the_file(store: MessageStore) -> None:
    relative = store.path_for(DAY, "INBOX", "m1")
    store.save(relative, b"old")
    digest, _ = store.save(relative, b"new")
    assert store.absolute(relative).read_bytes() == b"new"
    assert digest == hashlib.sha256(b"new").hexdigest()


class FetchFailed(Exception):
    pass


def failing_chunks() -> Iterator[bytes]:
    yield b"From: a@example.com\r\n"
    yield b"x" * 100_000
    raise FetchFailed("connection dropped mid-message")


def test_a_writer_failing_midway_leaves_no_file(store: MessageStore) -> None:
    relative = store.path_for(DAY, "INBOX", "m1")
    with pytest.raises(FetchFailed):
        store.save(relative, failing_chunks())
    assert not store.absolute(relative).exists()
    assert list(store.absolute(relative).parent.iterdir()) == []


def test_a_writer_failing_midway_keeps_the_earlier_copy(store: MessageStore) -> None:
    relative = store.path_for(DAY, "INBOX", "m1")
    store.save(relative, b"complete copy")
    with pytest.raises(FetchFailed):
        store.save(relative, failing_chunks())
    assert store.absolute(relative).read_bytes() == b"complete copy"
    assert [p.name for p in store.absolute(relative).parent.iterdir()] == ["m1.eml"]


def test_an_unwritable_upload_dir_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    store = MessageStore(blocker / "uploads")
    with pytest.raises(StoreError):
        store.save(store.path_for(DAY, "INBOX", "m1"), b"x")


def test_save_many_writes_a_chunk_durably_and_can_repeat_it(tmp_path: Path) -> None:
    store = MessageStore(tmp_path)
    items = [(store.path_for(DAY, folder, f"m{n}"), f"message {n}".encode()) for n, folder in
             enumerate(["INBOX", "INBOX", "Archive/2026"])]  # fmt: skip
    first = store.save_many(items)
    again = store.save_many(items)
    assert first == again
    for (relative, raw), (digest, size) in zip(items, first, strict=True):
        assert store.absolute(relative).read_bytes() == raw
        assert (digest, size) == (hashlib.sha256(raw).hexdigest(), len(raw))
    assert not list(tmp_path.rglob("*.tmp"))


def test_save_many_of_nothing_needs_no_upload_dir(tmp_path: Path) -> None:
    assert MessageStore(tmp_path / "not-yet").save_many([]) == []
