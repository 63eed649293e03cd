"""The atomic, idempotent .eml writer under the upload directory, and safe folder names."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import hashlib
import logging
import os
import re
import secrets
import sys
import tempfile
import time
import unicodedata
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path, PurePosixPath

from shared.errors import StoreError

log = logging.getLogger(__name__)
_SYNC_THREADS = 16  # fsyncs in flight at once for a chunk

#: Longest encoded folder name, in UTF-8 bytes; file systems allow 255 per path component.
MAX_FOLDER_BYTES = 200
_HASH_CHARS = 16
# Characters that separate paths or that Windows/SMB shares refuse; `%` so decoding is unique.
_ALWAYS_ENCODED = frozenset('%/\\:*?"<>|')
_NAME = re.compile(r"\A[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}\Z")
_READ_CHUNK = 1 << 20
STAGING = ".incoming"
#: A temp file this old belongs to no save in flight: a killed writer left it.
STALE_SECONDS = 3600.0


def _escape(char: str) -> str:
    return "".join(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))


@functools.lru_cache(maxsize=256)  # asked once per stored message; accounts have few folders
def safe_folder_name(folder: str) -> str:
    """Turn a mailbox folder name into one path component that cannot leave its directory.

    Separators, `%`, control and invisible characters, a leading dot and trailing dots or
    spaces are percent-encoded; other characters, non-ASCII included, stay readable. The
    result is deterministic and distinct for distinct names; names too long for a file
    system are cut and given a hash suffix of the whole name.
    """
    if not folder:
        raise ValueError("folder must not be empty (a blank folder means INBOX: resolve it first)")
    parts: list[str] = []
    last = len(folder) - 1
    for index, char in enumerate(folder):
        if (
            char in _ALWAYS_ENCODED
            or unicodedata.category(char).startswith("C")
            or (index == 0 and char == ".")
            or (index == last and char in ". ")
        ):
            parts.append(_escape(char))
        else:
            parts.append(char)
    encoded = "".join(parts)
    if len(encoded.encode("utf-8")) <= MAX_FOLDER_BYTES:
        return encoded
    digest = hashlib.sha256(folder.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_CHARS]
    budget = MAX_FOLDER_BYTES - _HASH_CHARS - 1
    kept: list[str] = []
    for part in parts:  # whole characters and whole escapes only
        budget -= len(part.encode("utf-8"))
        if budget < 0:
            break
        kept.append(part)
    stem = "".join(kept)
    if stem.endswith((".", " ")):
        stem = stem[:-1] + _escape(stem[-1])
    return f"{stem}~{digest}"


def _fsync_dir(directory: Path) -> None:
    """Make a rename or a new entry in `directory` survive a power loss."""
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _syncfs(directory: Path) -> bool:
    """Flush the whole file system under `directory` in one call (Linux `syncfs`): for a chunk
    of files one journal commit instead of one per file. False where it is not available."""
    if _LIBC is None:
        return False
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        if _LIBC.syncfs(fd) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"syncfs: {os.strerror(error)}")
    finally:
        os.close(fd)
    return True


def _load_libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None
    return libc if hasattr(libc, "syncfs") else None


_LIBC = _load_libc()


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_new(path: str, data: bytes) -> None:
    """Write `data` to a new file (mode 0600, as `tempfile` makes them), not synced yet."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class MessageStore:
    """Saves raw messages as `default/in/YYYYMMDD/<folder>/<name>.eml` under the upload dir.

    A file appears under its final name complete or not at all (temp file, fsync, rename,
    fsync of the directory), so a consumer that reads `raw_path` from an event never sees a
    partial message. Temp files are written in one staging folder, `.incoming`, so that what
    a killed writer leaves behind is found there and removed by `remove_stale`.
    """

    def __init__(self, upload_dir: str | os.PathLike[str]) -> None:
        self.upload_dir = Path(upload_dir)
        self.staging = self.upload_dir / STAGING

    def remove_stale(self, older_than: float = STALE_SECONDS) -> int:
        """Delete temp files older than `older_than` seconds (a crash left them); returns how
        many. Files younger than that may belong to a save in flight and are kept."""
        removed = 0
        limit = time.time() - older_than
        with contextlib.suppress(FileNotFoundError), os.scandir(self.staging) as entries:
            for entry in entries:
                with contextlib.suppress(FileNotFoundError):
                    if entry.name.endswith(".tmp") and entry.stat().st_mtime < limit:
                        os.unlink(entry.path)
                        removed += 1
        if removed:
            log.info("removed %d temp file(s) that an interrupted save left in %s", removed,
                     self.staging)  # fmt: skip
        return removed

    def _temp_file(self, final: Path) -> tuple[int, str]:
        """An open temp file for `final`, in the staging folder on the same file system."""
        self.staging.mkdir(parents=True, exist_ok=True)
        return tempfile.mkstemp(dir=self.staging, prefix=f"{final.name}.", suffix=".tmp")

    def path_for(self, day: date, folder: str, name: str) -> str:
        """The relative path a message gets: the same inputs always give the same path.

        `name` must be a stable plain file name (e.g. the event id) so that a message saved
        again after a crash lands on the same file instead of a second copy.
        """
        if not _NAME.match(name):
            raise ValueError(f"not a safe message file name: {name!r}")
        return f"default/in/{day:%Y%m%d}/{safe_folder_name(folder)}/{name}.eml"

    def absolute(self, relative_path: str) -> Path:
        """The file behind a relative path, refused if it would lie outside the upload dir."""
        relative = PurePosixPath(relative_path)
        if (
            relative.is_absolute()
            or not relative.parts
            or any(part in ("", ".", "..") or "\\" in part for part in relative.parts)
        ):
            raise ValueError(f"not a relative path inside the upload directory: {relative_path!r}")
        return self.upload_dir.joinpath(*relative.parts)

    def save(self, relative_path: str, data: bytes | Iterable[bytes]) -> tuple[str, int]:
        """Write a message's exact bytes durably; returns (sha256 hex, size in bytes).

        `data` may be an iterable of chunks so a large message never has to be in memory at
        once. Saving the same bytes again is a no-op; different bytes under the same name
        replace the file atomically (the newest fetch wins, and its event carries its hash).
        An error raised by the chunk iterable propagates unchanged, after the temp file is gone.
        """
        final = self.absolute(relative_path)
        chunks: Iterable[bytes] = (data,) if isinstance(data, bytes | bytearray) else data
        try:
            self._make_dirs(final.parent)
            fd, temp_name = self._temp_file(final)
        except OSError as error:
            raise StoreError(f"store: cannot write {relative_path}: {error}") from error
        temp = Path(temp_name)
        try:
            digest, size = self._write(fd, chunks)
            if final.exists() and _file_sha256(final) == digest:
                temp.unlink()
                return digest, size
            if final.exists():
                log.warning("replacing %s: the message's bytes changed", relative_path)
            os.replace(temp, final)
            _fsync_dir(final.parent)
        except OSError as error:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise StoreError(f"store: cannot write {relative_path}: {error}") from error
        except BaseException:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise
        return digest, size

    def save_many(self, items: Sequence[tuple[str, bytes]]) -> list[tuple[str, int]]:
        """Save a chunk of messages durably at once: as `save`, but the chunk is made durable
        together (Linux `syncfs` once before and once after the renames: one journal commit
        instead of two per file; elsewhere fsyncs side by side and each directory once).
        Returns (sha256, size) in the order given. Directories are checked once per chunk and
        temp files get plain names (the chunk's random stem and a number): per message only
        the open, write, close and rename remain."""
        if not items:
            return []
        staged: list[tuple[str, str, str, int]] = []  # temp, final, sha256, size
        stem = f"{self.staging}/{secrets.token_hex(6)}."
        directories: dict[str, str] = {}
        try:
            for number, (relative_path, data) in enumerate(items):
                parent, _, name = relative_path.rpartition("/")
                directory = directories.get(parent)
                if directory is None or name in ("", ".", "..") or "\\" in name:
                    checked = self.absolute(relative_path)  # refuses paths outside the upload dir
                    self._make_dirs(checked.parent)
                    self.staging.mkdir(exist_ok=True)
                    directory = directories[parent] = str(checked.parent)
                temp = f"{stem}{number}.tmp"
                _write_new(temp, data)
                staged.append((temp, f"{directory}/{name}", hashlib.sha256(data).hexdigest(),
                               len(data)))  # fmt: skip
            if not _syncfs(self.upload_dir):
                with ThreadPoolExecutor(max_workers=_SYNC_THREADS) as pool:
                    list(pool.map(_fsync_file, [Path(temp) for temp, _, _, _ in staged]))
            for temp, final, _, _ in staged:
                os.replace(temp, final)
            if not _syncfs(self.upload_dir):
                for directory in set(directories.values()):
                    _fsync_dir(Path(directory))
        except OSError as error:
            for temp, _, _, _ in staged:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
            raise StoreError(f"store: cannot write a chunk of {len(items)}: {error}") from error
        return [(digest, size) for _, _, digest, size in staged]

    @staticmethod
    def _write(fd: int, chunks: Iterable[bytes], *, sync: bool = True) -> tuple[str, int]:
        digest = hashlib.sha256()
        size = 0
        with os.fdopen(fd, "wb") as handle:
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                handle.write(chunk)
            handle.flush()
            if sync:
                os.fsync(handle.fileno())
        return digest.hexdigest(), size

    def _make_dirs(self, directory: Path) -> None:
        """Create missing directories, each one made durable in its parent."""
        self.upload_dir.mkdir(parents=True, exist_ok=True)
        missing: list[Path] = []
        current = directory
        while current != self.upload_dir and not current.is_dir():
            missing.append(current)
            current = current.parent
        for path in reversed(missing):
            try:
                path.mkdir()
            except FileExistsError:
                continue  # another writer made it first
            _fsync_dir(path.parent)
