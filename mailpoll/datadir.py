"""The data dir of a single-machine install, and a note when a command makes a new one.

The default data dir is relative (`./mailpoll-data`), so a command run from another directory
would quietly start over with no accounts: every command that makes a relative data dir says
so. One given as an absolute MAILPOLL_DATA_DIR is where it is meant to be.
"""

from __future__ import annotations

from pathlib import Path

import click


class DataDir:
    """Where the embedded database, key, events and uploads live; made on first use."""

    def __init__(self, path: Path) -> None:
        self.path = path.resolve()
        self._was_missing = not path.is_absolute() and not self.path.exists()
        self._noted = False

    def ensure(self) -> Path:
        """The absolute data dir, made if missing (with the note)."""
        self.path.mkdir(parents=True, exist_ok=True)
        self.note_if_new()
        return self.path

    def note_if_new(self) -> None:
        """Once, if this command made the data dir (whichever part of it made it)."""
        if self._was_missing and not self._noted and self.path.exists():
            self._noted = True
            click.echo(
                f"note: created a new empty data dir {self.path}; if you have accounts, they "
                "live in the data dir you used before: run from that directory or set "
                "MAILPOLL_DATA_DIR",
                err=True,
            )
