"""The SQLite file behind the local event transport: queues, their bindings, their messages.

One file in the data dir, in WAL mode, so one publishing process and any number of
consuming processes share it safely: every change is a transaction, a reader never sees a
half-written message, and what a queue holds survives restarts of either side.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS queues (
    name TEXT PRIMARY KEY,
    auto_delete INTEGER NOT NULL,
    seen_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS bindings (
    exchange TEXT NOT NULL,
    routing_key TEXT NOT NULL,
    pattern TEXT NOT NULL,
    queue TEXT NOT NULL,
    PRIMARY KEY (exchange, routing_key, queue)
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    payload TEXT NOT NULL,
    visible_at REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS messages_by_queue ON messages (queue, id);
"""
Row = tuple[int, str]  # (message id, payload)


class EventStore:
    """One connection to the file; each method is one short transaction."""

    def __init__(self, path: str | Path, *, busy_timeout: float = 5.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit mode: transactions are begun explicitly, IMMEDIATE when they write.
        self._db = sqlite3.connect(
            self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        # Every commit is on disk before a publish returns (the poll deletes mail after it).
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)  # idempotent; SQLite serialises concurrent openers
        self._touched: dict[str, float] = {}

    def _write(self) -> _Transaction:
        return _Transaction(self._db)

    def declare_queue(self, name: str, *, auto_delete: bool) -> None:
        with self._write():
            self._db.execute(
                "INSERT INTO queues VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET seen_at = excluded.seen_at",
                (name, int(auto_delete), time.time()),
            )

    def bind(self, exchange: str, routing_key: str, pattern: str, queue: str) -> None:
        with self._write():
            self._db.execute(
                "INSERT OR REPLACE INTO bindings VALUES (?, ?, ?, ?)",
                (exchange, routing_key, pattern, queue),
            )

    def table(self, exchange: str) -> list[tuple[str, str, str]]:
        """The exchange's bindings as kombu routes by them: (routing key, pattern, queue)."""
        rows = self._db.execute(
            "SELECT routing_key, pattern, queue FROM bindings WHERE exchange = ?", (exchange,)
        )
        return [tuple(row) for row in rows]

    def put_many(self, messages: Sequence[tuple[str, str]]) -> None:
        """Store (queue, payload) pairs in one transaction; a queue deleted meanwhile gets none."""
        with self._write():
            self._db.executemany(
                "INSERT INTO messages (queue, payload)"
                " SELECT ?1, ?2 WHERE EXISTS (SELECT 1 FROM queues WHERE name = ?1)",
                messages,
            )

    def take(
        self,
        queue: str,
        *,
        limit: int,
        hide_for: float,
        done: Sequence[int] = (),
        touch_every: float = 10.0,
    ) -> list[Row] | None:
        """Reserve up to `limit` visible messages of `queue`, oldest first, for `hide_for` s.

        Deletes the `done` (acknowledged) messages in the same transaction. None when the
        queue no longer exists (an expired private queue). Polling an empty queue writes
        nothing, except to say every `touch_every` s that its consumer is still there.
        """
        now = time.time()
        recent = now - self._touched.get(queue, 0.0) < touch_every
        if not done and recent and not self._visible(queue, now):
            return []
        with self._write():
            self._delete(done)
            seen = self._db.execute(
                "UPDATE queues SET seen_at = ? WHERE name = ?", (now, queue)
            ).rowcount
            if not seen:
                return None
            rows = self._db.execute(
                "UPDATE messages SET visible_at = ? WHERE id IN (SELECT id FROM messages"
                " WHERE queue = ? AND visible_at <= ? ORDER BY id LIMIT ?)"
                " RETURNING id, payload",
                (now + hide_for, queue, now, limit),
            ).fetchall()
        self._touched[queue] = now
        return sorted(rows)

    def _visible(self, queue: str, now: float) -> bool:
        query = "SELECT 1 FROM messages WHERE queue = ? AND visible_at <= ? LIMIT 1"
        return self._db.execute(query, (queue, now)).fetchone() is not None

    def done(self, ids: Sequence[int]) -> None:
        with self._write():
            self._delete(ids)

    def release(self, ids: Iterable[int]) -> None:
        """Make reserved messages visible again (a consumer that stops gives them back)."""
        with self._write():
            self._db.executemany(
                "UPDATE messages SET visible_at = 0 WHERE id = ?", [(i,) for i in ids]
            )

    def _delete(self, ids: Sequence[int]) -> None:
        self._db.executemany("DELETE FROM messages WHERE id = ?", [(i,) for i in ids])

    def delete_queue(self, name: str) -> None:
        with self._write():
            self._db.execute("DELETE FROM messages WHERE queue = ?", (name,))
            self._db.execute("DELETE FROM bindings WHERE queue = ?", (name,))
            self._db.execute("DELETE FROM queues WHERE name = ?", (name,))

    def drop_abandoned(self, *, idle_for: float) -> list[str]:
        """Delete the private (auto-delete) queues no consumer has polled for `idle_for` s.

        A `mailpoll events tail` that was killed cannot delete its queue; without this, the
        queue would collect every later event for nobody.
        """
        abandoned = [
            name
            for (name,) in self._db.execute(
                "SELECT name FROM queues WHERE auto_delete AND seen_at < ?",
                (time.time() - idle_for,),
            )
        ]
        for name in abandoned:
            self.delete_queue(name)
        return abandoned

    def has_queue(self, name: str) -> bool:
        query = "SELECT 1 FROM queues WHERE name = ?"
        return self._db.execute(query, (name,)).fetchone() is not None

    def size(self, queue: str) -> int:
        query = "SELECT count(*) FROM messages WHERE queue = ? AND visible_at <= ?"
        return int(self._db.execute(query, (queue, time.time())).fetchone()[0])

    def purge(self, queue: str) -> int:
        with self._write():
            query = "DELETE FROM messages WHERE queue = ?"
            return self._db.execute(query, (queue,)).rowcount

    def close(self) -> None:
        self._db.close()


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error): the write lock is taken up front."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self._db.execute("ROLLBACK" if exc_type is not None else "COMMIT")
