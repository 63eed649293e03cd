"""Exclusive locks between processes on one machine: a lock file per name in the data dir.

An embedded Redis lives inside one process, so its account leases cannot keep a second
process (a `mailpoll poll` beside `mailpoll run`, or `run` started twice) away from the same
accounts. These `flock` locks can: the kernel drops them when the holder exits or is killed,
so a crash never leaves one behind, and the file names the holder's pid for the message.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from types import TracebackType

from shared.errors import LockBusyError


class HostLock:
    """A non-blocking exclusive lock on `<directory>/<name>.lock`, held until `release`."""

    def __init__(self, directory: Path, name: str) -> None:
        self.path = directory / f"{name}.lock"
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock if no other process holds it; True if taken (a no-op if held)."""
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def holder(self) -> int | None:
        """The pid written by the process that holds (or last held) the lock, if readable."""
        with contextlib.suppress(OSError, ValueError):
            return int(self.path.read_text().strip())
        return None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor drops the flock

    def __enter__(self) -> HostLock:
        if not self.acquire():
            raise LockBusyError(f"{self.path} is held by another process (pid {self.holder()})")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
