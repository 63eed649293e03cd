"""Taking new mail in, in the order that loses nothing: store, announce, record, then act.

For each chunk of fetched messages: the raw bytes are written atomically to the upload dir,
the events are published, and only then are the messages added to the ledger together with
the folder's new high-water mark. A crash anywhere repeats at most the chunk in flight, with
the same file names and the same event ids.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from shared import events
from shared.clock import Clock, utc
from shared.db import ledger
from shared.db.database import Database
from shared.db.models import Account, DeadLetter, IgnoredMessage, ReceivedMessage
from shared.errors import LockLostError
from shared.mail.client import MessageRef, Rejected, RemoteMessage
from shared.mail.parse import MessageMetadata, parse_metadata
from shared.mail.parsing import InlineParser, Parser
from shared.store import MessageStore
from workers import actions

log = logging.getLogger(__name__)


@dataclass
class Tally:
    """What a poll did, for its log line, `mailpoll poll` and the account status."""

    announced: int = 0
    ignored: int = 0
    dead: int = 0
    repeated: int = 0  # already announced before a UIDVALIDITY change: not announced again
    acted: int = 0
    more_waiting: bool = False
    waiting: int = 0  # left on the server for the next poll
    oldest_waiting: datetime | None = None
    event_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Filters:
    """`process_after` and `ignore_older_than_hours`, fixed at the start of a poll."""

    not_before: datetime | None

    @classmethod
    def of(cls, account: Account, now: datetime) -> Filters:
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


@dataclass
class Intake:
    """Everything one chunk needs; `alive` says whether this worker still holds the lock."""

    account: Account
    database: Database
    store: MessageStore
    publish: Callable[[Sequence[dict[str, Any]]], object]
    clock: Clock
    fence: int
    alive: Callable[[], bool]
    tally: Tally = field(default_factory=Tally)
    careful: bool = False  # fetch one message at a time (see workers.poll._fetch)
    parser: Parser = field(default_factory=InlineParser)

    def take(
        self,
        items: Iterable[RemoteMessage | Rejected],
        *,
        folder: str,
        uidvalidity: int | None,
        last_uid: int,
        filters: Filters,
        known_hashes: set[str] | None = None,
        rescan_before_uid: int | None = None,
        server_uidls: frozenset[str] | None = None,
    ) -> list[ReceivedMessage]:
        """Store, announce and record one chunk; returns its new ledger rows.

        POP3 passes `server_uidls`, every UIDL on the server now: a message whose content was
        announced under another UIDL is not announced again (see `_not_announced`).
        """
        now = self.clock()
        rows: list[ReceivedMessage] = []
        outgoing: list[dict[str, Any]] = []
        ignored: list[IgnoredMessage] = []
        pending: list[tuple[RemoteMessage, MessageMetadata | None]] = []
        for item in items:
            if isinstance(item, Rejected):
                last_uid = max(last_uid, item.ref.uid or 0)
                self._dead_letter(item, now)
                continue
            last_uid = max(last_uid, item.uid or 0)
            received = item.internal_date
            metadata = None
            if item.uid is None and filters.not_before is not None:  # POP3: the Date header
                metadata = parse_metadata(item.raw)
                received = datetime.fromisoformat(metadata.date) if metadata.date else None
            reason = filters.reason_to_skip(received)
            if reason is not None:
                self.tally.ignored += 1
                if item.uidl is not None:
                    ignored.append(
                        IgnoredMessage(account_id=self._id, uidl=item.uidl, reason=reason, at=now)
                    )
                continue
            if (
                known_hashes
                and (item.uid or 0) < (rescan_before_uid or 0)
                and hashlib.sha256(item.raw).hexdigest() in known_hashes
            ):
                self.tally.repeated += 1  # announced under the folder's previous UIDVALIDITY
                continue
            pending.append((item, metadata))
        relabel: list[tuple[int, str]] = []
        if server_uidls is not None:
            pending = self._not_announced(pending, server_uidls, relabel, ignored, now)
        for row, event in self._store(pending, now):
            rows.append(row)
            outgoing.append(event)
        if not self.alive():
            raise LockLostError(f"{self.account.name}: lock lost before publishing")
        if outgoing:
            self.publish(outgoing)
        actions.plan(self.account, rows, now)  # due actions go into the ledger with the rows
        with self.database.session() as session:
            ledger.record_batch(
                session, account_id=self._id, folder=folder, uidvalidity=uidvalidity,
                last_uid=last_uid, fence=self.fence, received=rows, ignored=ignored, now=now,
                rescan_before_uid=_still_rescanning(rescan_before_uid, last_uid), relabel=relabel,
            )  # fmt: skip
            self._record_dead_letters(session)
        self.tally.announced += len(rows)
        self.tally.event_ids += [row.event_id for row in rows]
        return rows

    @property
    def _id(self) -> int:
        assert self.account.id is not None
        return self.account.id

    def _store(
        self, pending: list[tuple[RemoteMessage, MessageMetadata | None]], now: datetime
    ) -> Iterator[tuple[ReceivedMessage, dict[str, Any]]]:
        """Parse the chunk (maybe in other processes) while its files are written durably;
        then make each message's row and event."""
        unparsed = [item.raw for item, metadata in pending if metadata is None]
        result = self.parser.submit(unparsed)
        ids = [self._event_id(item) for item, _ in pending]
        paths = [
            self.store.path_for(now.date(), item.folder, event_id)
            for (item, _), event_id in zip(pending, ids, strict=True)
        ]
        saved = self.store.save_many(
            [(path, item.raw) for (item, _), path in zip(pending, paths, strict=True)]
        )
        fresh = iter(result())
        for (item, known), event_id, relative, (sha256, size) in zip(
            pending, ids, paths, saved, strict=True
        ):
            metadata = known if known is not None else next(fresh)
            event = events.build_received_event(
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
            row = ReceivedMessage(
                account_id=self._id, folder=item.folder, uidvalidity=item.uidvalidity,
                uid=item.uid, uidl=item.uidl, event_id=event_id, message_id=metadata.message_id,
                sha256=sha256, size=size, raw_path=relative, internal_date=item.internal_date,
                downloaded_at=now, published_at=now,
            )  # fmt: skip
            yield row, event

    def _not_announced(
        self,
        pending: list[tuple[RemoteMessage, MessageMetadata | None]],
        server_uidls: frozenset[str],
        relabel: list[tuple[int, str]],
        ignored: list[IgnoredMessage],
        now: datetime,
    ) -> list[tuple[RemoteMessage, MessageMetadata | None]]:
        """POP3 messages whose bytes were announced before under another UIDL are left out.

        Servers make new UIDLs when a mailbox is restored or its UIDVALIDITY changes (Cyrus);
        the same message then keeps its event id. Its ledger row takes the new UIDL when the
        old one is gone from the server (so a pending delete finds it); while both are there,
        the new one is only marked as seen.
        """
        hashes = {id(item): hashlib.sha256(item.raw).hexdigest() for item, _ in pending}
        with self.database.session() as session:
            known = ledger.announced_by_content(session, self._id, set(hashes.values()))
        fresh = []
        for item, metadata in pending:
            match = known.get(hashes[id(item)])
            if match is None or item.uidl is None:
                fresh.append((item, metadata))
                continue
            row_id, old_uidl = match
            self.tally.repeated += 1
            if old_uidl not in server_uidls:
                relabel.append((row_id, item.uidl))
                known.pop(hashes[id(item)])
            else:
                reason = f"same content as the message announced with UIDL {old_uidl}"
                ignored.append(
                    IgnoredMessage(account_id=self._id, uidl=item.uidl, reason=reason, at=now)
                )
        if len(fresh) < len(pending):
            log.info(
                "%s: %d message(s) came back under new UIDLs: not announced again",
                self.account.name, len(pending) - len(fresh),
            )  # fmt: skip
        return fresh

    def _event_id(self, item: RemoteMessage) -> str:
        if item.uid is None:  # POP3: the UIDL is the identity
            return events.event_id(self._id, "", None, item.uidl or "")
        return events.event_id(self._id, item.folder, item.uidvalidity, item.uid)

    def _dead_letter(self, item: Rejected, now: datetime) -> None:
        log.warning(
            "%s: %s goes to the dead-letter list: %s", self.account.name, item.ref, item.error
        )
        self._pending_dead.append((item.ref, str(item.error), now))
        self.tally.dead += 1

    def _record_dead_letters(self, session: Session) -> None:
        for ref, error, now in self._pending_dead:
            known = ledger.dead_letter_of(session, self._id, ref)
            if known is None:
                session.add(_dead_letter_row(self._id, ref, error, now))
            else:  # a replay that failed again
                known.dead, known.error, known.last_failed_at = True, error, now
                known.attempts += 1
        self._pending_dead.clear()

    def __post_init__(self) -> None:
        self._pending_dead: list[tuple[MessageRef, str, datetime]] = []


def _still_rescanning(rescan_before_uid: int | None, last_uid: int) -> int | None:
    """Keep the rescan mark until the checkpoint has passed every UID it covers."""
    if rescan_before_uid is None or last_uid >= rescan_before_uid - 1:
        return None
    return rescan_before_uid


def _dead_letter_row(account_id: int, ref: MessageRef, error: str, now: datetime) -> DeadLetter:
    return DeadLetter(
        account_id=account_id, folder=ref.folder, uidvalidity=ref.uidvalidity, uid=ref.uid,
        uidl=ref.uidl, error=error, attempts=1, first_failed_at=now, last_failed_at=now,
        dead=True,
    )  # fmt: skip
