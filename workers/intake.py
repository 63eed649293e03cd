"""Taking new mail in, in the order that loses nothing: store, announce, record, then act.

For each chunk of fetched messages: the raw bytes are written atomically to the upload dir,
the events are published, and only then are the messages added to the ledger together with
the folder's new high-water mark. A crash anywhere repeats at most the chunk in flight, with
the same file names and the same event ids.

`Intake.take` is a step of values: it takes the folder's cursor and a chunk, and returns the
cursor after the chunk and a tally of what the chunk did.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from shared import events
from shared.clock import Clock, utc
from shared.db import ledger
from shared.db.database import Database
from shared.errors import LockLostError
from shared.mail.client import MessageRef, Rejected, RemoteMessage
from shared.mail.metadata import MessageMetadata
from shared.mail.parse import parse_metadata
from shared.mail.parse_pool import InlineParser, Parser
from shared.store import MessageStore
from workers.account import InboundAccount

log = logging.getLogger(__name__)
Pending = list[tuple[RemoteMessage, MessageMetadata | None]]


@dataclass(frozen=True)
class Tally:
    """What a poll (or one chunk of it) did, for its log line, `mailpoll poll` and the
    account status. Tallies add up: `a + b`."""

    announced: int = 0
    ignored: int = 0
    dead: int = 0
    repeated: int = 0  # already announced before a UIDVALIDITY change: not announced again
    acted: int = 0
    more_waiting: bool = False
    waiting: int = 0  # left on the server for the next poll
    oldest_waiting: datetime | None = None
    event_ids: tuple[str, ...] = ()

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            announced=self.announced + other.announced, ignored=self.ignored + other.ignored,
            dead=self.dead + other.dead, repeated=self.repeated + other.repeated,
            acted=self.acted + other.acted, more_waiting=self.more_waiting or other.more_waiting,
            waiting=self.waiting + other.waiting,
            oldest_waiting=other.oldest_waiting or self.oldest_waiting,
            event_ids=self.event_ids + other.event_ids,
        )  # fmt: skip


@dataclass(frozen=True)
class FolderCursor:
    """Where intake stands in one folder: what `take` reads and returns.

    `rescan_before_uid` and `known_hashes` are set after a UIDVALIDITY change: messages below
    that UID whose content was announced before are not announced again.
    """

    folder: str
    uidvalidity: int | None
    last_uid: int
    rescan_before_uid: int | None = None
    known_hashes: frozenset[str] = frozenset()

    def passed(self, uid: int) -> FolderCursor:
        """The cursor once everything up to `uid` is taken; the rescan ends past its mark."""
        last_uid = max(self.last_uid, uid)
        rescan = self.rescan_before_uid
        if rescan is not None and last_uid >= rescan - 1:
            return dataclasses.replace(
                self, last_uid=last_uid, rescan_before_uid=None, known_hashes=frozenset()
            )
        return dataclasses.replace(self, last_uid=last_uid)

    def announced_before(self, item: RemoteMessage) -> bool:
        return (
            bool(self.known_hashes)
            and (item.uid or 0) < (self.rescan_before_uid or 0)
            and hashlib.sha256(item.raw).hexdigest() in self.known_hashes
        )


class _DateLimits(Protocol):
    @property
    def process_after(self) -> datetime | None: ...

    @property
    def ignore_older_than_hours(self) -> int | None: ...


@dataclass(frozen=True)
class Filters:
    """`process_after` and `ignore_older_than_hours`, fixed at the start of a poll."""

    not_before: datetime | None

    @classmethod
    def of(cls, account: _DateLimits, now: datetime) -> Filters:
        limits = []
        if account.process_after is not None:
            limits.append(utc(account.process_after))
        if account.ignore_older_than_hours:
            limits.append(now - timedelta(hours=account.ignore_older_than_hours))
        return cls(max(limits) if limits else None)

    def reason_to_skip(self, received: datetime | None) -> str | None:
        if self.not_before is None or received is None:
            return None
        if utc(received) < self.not_before:
            return f"received {utc(received).isoformat()} before {self.not_before.isoformat()}"
        return None


@dataclass(frozen=True)
class Intake:
    """What every chunk of one poll needs; `alive` says whether this worker still holds the
    account's lease."""

    account: InboundAccount
    database: Database
    store: MessageStore
    publish: Callable[[Sequence[dict[str, Any]]], object]
    clock: Clock
    fence: int
    alive: Callable[[], bool]
    careful: bool = False  # fetch one message at a time (see workers.poll._fetch)
    parser: Parser = dataclasses.field(default_factory=InlineParser)

    def take(
        self,
        items: Iterable[RemoteMessage | Rejected],
        cursor: FolderCursor,
        filters: Filters,
        *,
        server_uidls: frozenset[str] | None = None,
    ) -> tuple[FolderCursor, Tally]:
        """Store, announce and record one chunk; returns the cursor after it and its tally.

        POP3 passes `server_uidls`, every UIDL on the server now: a message whose content was
        announced under another UIDL is not announced again (see `_not_announced`).
        """
        now = self.clock()
        pending: Pending = []
        ignored: list[dict[str, Any]] = []
        dead: list[tuple[MessageRef, str]] = []
        after = cursor
        repeated = skipped = 0
        for item in items:
            if isinstance(item, Rejected):
                after = after.passed(item.ref.uid or 0)
                log.warning("%s: %s goes to the dead-letter list: %s",
                            self.account.name, item.ref, item.error)  # fmt: skip
                dead.append((item.ref, str(item.error)))
                continue
            after = after.passed(item.uid or 0)
            metadata, reason = self._filtered(item, filters)
            if reason is not None:
                skipped += 1
                if item.uidl is not None:  # POP3 has no cursor: the ledger remembers the UIDL
                    ignored.append({"uidl": item.uidl, "reason": reason})
            elif cursor.announced_before(item):
                repeated += 1  # announced under the folder's previous UIDVALIDITY
            else:
                pending.append((item, metadata))
        relabel: list[tuple[int, str]] = []
        if server_uidls is not None:
            fresh = self._not_announced(pending, server_uidls, relabel, ignored)
            repeated += len(pending) - len(fresh)
            pending = fresh
        rows, outgoing = self._store(pending, now)
        if not self.alive():
            raise LockLostError(f"{self.account.name}: lock lost before publishing")
        if outgoing:
            self.publish(outgoing)
        with self.database.session() as session:
            ledger.record_batch(
                session, account_id=self.account.id, folder=after.folder,
                uidvalidity=after.uidvalidity, last_uid=after.last_uid, fence=self.fence,
                received=rows, ignored=ignored, now=now, relabel=relabel, dead=dead,
                rescan_before_uid=after.rescan_before_uid,
            )  # fmt: skip
        tally = Tally(
            announced=len(rows), ignored=skipped, dead=len(dead), repeated=repeated,
            event_ids=tuple(row["event_id"] for row in rows),
        )  # fmt: skip
        return after, tally

    def _filtered(
        self, item: RemoteMessage, filters: Filters
    ) -> tuple[MessageMetadata | None, str | None]:
        """The message's metadata if it had to be read already, and why it is skipped."""
        if item.uid is None and filters.not_before is not None:  # POP3: the Date header
            metadata = parse_metadata(item.raw)
            received = datetime.fromisoformat(metadata.date) if metadata.date else None
            return metadata, filters.reason_to_skip(received)
        return None, filters.reason_to_skip(item.internal_date)

    def _store(
        self, pending: Pending, now: datetime
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Parse the chunk (here or in other processes) while another thread writes its files
        durably (file creation and syncfs wait on the disk, without the GIL); then make each
        message's ledger row and event."""
        result = self.parser.submit([item.raw for item, metadata in pending if metadata is None])
        day = now.date()
        ids = [self._event_id(item) for item, _ in pending]
        paths = [
            self.store.path_for(day, item.folder, event_id)
            for (item, _), event_id in zip(pending, ids, strict=True)
        ]
        files = [(path, item.raw) for (item, _), path in zip(pending, paths, strict=True)]
        with ThreadPoolExecutor(1, thread_name_prefix="store") as writer:
            saving = writer.submit(self.store.save_many, files)
            fresh = iter(result())  # parses here (or waits for the pool) while files are written
            saved = saving.result()
        action = self.account.first_action
        due = None if action is None else now + self.account.delay(action)
        rows: list[dict[str, Any]] = []
        outgoing: list[dict[str, Any]] = []
        for (item, known), event_id, relative, (sha256, size) in zip(
            pending, ids, paths, saved, strict=True
        ):
            metadata = known if known is not None else next(fresh)
            outgoing.append(
                events.build_received_event(
                    id=event_id,
                    account=self.account.name,
                    protocol="pop3" if item.uid is None else "imap",
                    folder=item.folder,
                    uidvalidity=item.uidvalidity,
                    uid=item.uid,
                    uidl=item.uidl,
                    metadata=metadata,
                    size=size,
                    sha256=sha256,
                    raw_path=relative,
                    time=now,
                )
            )
            rows.append(
                {
                    "account_id": self.account.id,
                    "folder": item.folder,
                    "uidvalidity": item.uidvalidity,
                    "uid": item.uid,
                    "uidl": item.uidl,
                    "event_id": event_id,
                    "message_id": metadata.message_id,
                    "sha256": sha256,
                    "size": size,
                    "raw_path": relative,
                    "internal_date": item.internal_date,
                    "downloaded_at": now,
                    "published_at": now,
                    "server_action": action,
                    "server_action_due_at": due,
                }
            )
        return rows, outgoing

    def _not_announced(
        self,
        pending: Pending,
        server_uidls: frozenset[str],
        relabel: list[tuple[int, str]],
        ignored: list[dict[str, Any]],
    ) -> Pending:
        """POP3 messages whose bytes were announced before under another UIDL are left out.

        Servers make new UIDLs when a mailbox is restored or its UIDVALIDITY changes (Cyrus);
        the same message then keeps its event id. Its ledger row takes the new UIDL when the
        old one is gone from the server (so a pending delete finds it); while both are there,
        the new one is only marked as seen.
        """
        hashes = {id(item): hashlib.sha256(item.raw).hexdigest() for item, _ in pending}
        with self.database.session() as session:
            known = ledger.announced_by_content(session, self.account.id, set(hashes.values()))
        fresh = []
        for item, metadata in pending:
            match = known.get(hashes[id(item)])
            if match is None or item.uidl is None:
                fresh.append((item, metadata))
                continue
            row_id, old_uidl = match
            if old_uidl not in server_uidls:
                relabel.append((row_id, item.uidl))
                known.pop(hashes[id(item)])
            else:
                reason = f"same content as the message announced with UIDL {old_uidl}"
                ignored.append({"uidl": item.uidl, "reason": reason})
        if len(fresh) < len(pending):
            log.info(
                "%s: %d message(s) came back under new UIDLs: not announced again",
                self.account.name, len(pending) - len(fresh),
            )  # fmt: skip
        return fresh

    def _event_id(self, item: RemoteMessage) -> str:
        if item.uid is None:  # POP3: the UIDL is the identity
            return events.event_id(self.account.id, "", None, item.uidl or "")
        return events.event_id(self.account.id, item.folder, item.uidvalidity, item.uid)
