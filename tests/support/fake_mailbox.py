"""An in-memory mailbox that keeps the client protocol, for unit tests of the polling logic."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shared.errors import ConfigError, FolderError, MailpollError
from shared.mail.client import (
    INBOX,
    Closing,
    FolderInfo,
    MessageRef,
    Rejected,
    RemoteMessage,
    by_folder,
    too_large,
)


@dataclass
class FakeMessage:
    uid: int
    raw: bytes
    internal_date: datetime
    flags: set[str] = field(default_factory=set)


@dataclass
class FakeFolder:
    uidvalidity: int = 1
    uidnext: int = 1
    messages: dict[int, FakeMessage] = field(default_factory=dict)


class FakeMailbox(Closing):
    """Folders of messages in memory; `actions` records what was done, in order.

    `pop3=True` behaves like a POP3 server: INBOX only, refs by UIDL, no mark_read or move,
    deletions applied when the session closes.
    Set `fail_with` to an error to make the next call raise it (a dropped connection, ...).
    """

    def __init__(self, *, pop3: bool = False, max_message_mb: int = 100) -> None:
        self.pop3 = pop3
        self.max_message_mb = max_message_mb
        self.folders_: dict[str, FakeFolder] = {INBOX: FakeFolder()}
        self.actions: list[tuple[str, ...]] = []
        self.fail_with: MailpollError | None = None
        self.broken_uids: dict[int, MailpollError] = {}  # FETCH of these always fails
        self.closed = False
        self._pending_deletes: list[tuple[FakeFolder, int]] = []  # POP3: applied at close()

    # -- set-up, for tests ---------------------------------------------------------------

    def add(self, raw: bytes, folder: str = INBOX, *, internal_date: datetime | None = None) -> int:
        """Deliver a message; returns its UID."""
        box = self.folders_.setdefault(folder, FakeFolder())
        uid = box.uidnext
        box.uidnext += 1
        box.messages[uid] = FakeMessage(uid, raw, internal_date or datetime.now(UTC))
        return uid

    def create_folder(self, folder: str) -> None:
        self.folders_.setdefault(folder, FakeFolder())

    def reset_uidvalidity(self, folder: str = INBOX) -> None:
        """As if the folder was recreated: new UIDVALIDITY, UIDs renumbered from 1."""
        box = self.folders_[folder]
        messages = sorted(box.messages.values(), key=lambda m: m.uid)
        self.folders_[folder] = FakeFolder(box.uidvalidity + 1)
        for message in messages:
            self.add(message.raw, folder, internal_date=message.internal_date)

    # -- the protocol --------------------------------------------------------------------

    def _call(self, *action: str) -> None:
        if self.closed:
            raise MailpollError("fake mailbox used after close()")
        if self.fail_with is not None:
            error, self.fail_with = self.fail_with, None
            raise error
        self.actions.append(action)

    def _folder(self, name: str) -> FakeFolder:
        if self.pop3 and name != INBOX:
            raise ConfigError("folder", f"POP3 has only INBOX, not {name!r}")
        if name not in self.folders_:
            raise FolderError(f"fake: folder {name!r} does not exist")
        return self.folders_[name]

    def _messages(self, refs: Sequence[MessageRef]) -> Iterator[tuple[FakeFolder, int]]:
        for name, group in by_folder(refs).items():
            box = self._folder(name)
            for ref in group:
                if ref.uidvalidity not in (None, box.uidvalidity):
                    raise FolderError(f"fake: folder {name!r} has a new UIDVALIDITY")
                uid = int(ref.uidl) if self.pop3 and ref.uidl else ref.uid
                if uid is not None and uid in box.messages:
                    yield box, uid

    def folders(self) -> list[str]:
        self._call("folders")
        return [INBOX] if self.pop3 else list(self.folders_)

    def select(self, folder: str) -> FolderInfo:
        self._call("select", folder)
        box = self._folder(folder)
        if self.pop3:
            return FolderInfo(None, None, len(box.messages))
        return FolderInfo(box.uidvalidity, box.uidnext, len(box.messages))

    def list_new(
        self, folder: str, after_uid: int = 0, *, limit: int | None = None
    ) -> list[MessageRef]:
        self._call("list_new", folder, str(after_uid))
        box = self._folder(folder)
        refs = [self._ref(folder, box, m) for uid, m in sorted(box.messages.items())]
        return refs[:limit] if self.pop3 else [r for r in refs if (r.uid or 0) > after_uid][:limit]

    def count_new(self, folder: str, after_uid: int = 0) -> int:
        return len(self.list_new(folder, after_uid))

    def _ref(self, folder: str, box: FakeFolder, message: FakeMessage) -> MessageRef:
        if self.pop3:
            return MessageRef(folder, uidl=str(message.uid), size=len(message.raw))
        return MessageRef(
            folder, message.uid, box.uidvalidity, None, len(message.raw), message.internal_date
        )

    def fetch(self, refs: Sequence[MessageRef]) -> Iterator[RemoteMessage | Rejected]:
        self._call("fetch", *(str(ref) for ref in refs))
        for box, uid in list(self._messages(refs)):
            if uid in self.broken_uids:
                raise self.broken_uids[uid]
            message = box.messages[uid]
            folder = next(name for name, b in self.folders_.items() if b is box)
            ref = self._ref(folder, box, message)
            rejected = too_large(ref, len(message.raw), self.max_message_mb)
            yield rejected or RemoteMessage(
                folder,
                ref.uidvalidity,
                ref.uid,
                ref.uidl,
                len(message.raw),
                ref.internal_date,
                message.raw,
            )

    def mark_read(self, refs: Sequence[MessageRef]) -> None:
        if self.pop3:
            raise ConfigError("on_email_received", "POP3 cannot mark messages read")
        self._call("mark_read", *(str(ref) for ref in refs))
        for box, uid in list(self._messages(refs)):
            box.messages[uid].flags.add("\\Seen")

    def move(self, refs: Sequence[MessageRef], folder: str) -> None:
        if self.pop3:
            raise ConfigError("on_email_received", "POP3 cannot move messages to a folder")
        self._call("move", folder, *(str(ref) for ref in refs))
        self._folder(folder)
        for box, uid in list(self._messages(refs)):
            message = box.messages.pop(uid)
            self.add(message.raw, folder, internal_date=message.internal_date)

    def delete(self, refs: Sequence[MessageRef]) -> None:
        self._call("delete", *(str(ref) for ref in refs))
        found = list(self._messages(refs))
        if self.pop3:
            self._pending_deletes.extend(found)
            return
        for box, uid in found:
            del box.messages[uid]

    def peer_certificate(self) -> dict[str, Any] | None:
        return None

    def close(self) -> None:
        if not self.closed:
            self.actions.append(("close",))
            for box, uid in self._pending_deletes:
                box.messages.pop(uid, None)
        self.closed = True
