"""Looking into the local event store from a test: which queues are bound right now."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path


def local_queues(data_dir: Path) -> list[str]:
    """Names of the queues in the data dir's event store (none before it exists)."""
    path = data_dir / "events.sqlite3"
    if not path.exists():
        return []
    with contextlib.closing(sqlite3.connect(path, timeout=5)) as db:
        try:
            return [name for (name,) in db.execute("SELECT name FROM queues ORDER BY name")]
        except sqlite3.OperationalError:  # made, but its tables not yet
            return []


def tail_bound(data_dir: Path) -> bool:
    """Whether an `events tail` has bound its private queue in the data dir's store."""
    return any(name.startswith("mailpoll.tail.") for name in local_queues(data_dir))
