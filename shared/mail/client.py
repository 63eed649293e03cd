"""The mailbox client protocol that polling code uses, whatever the server speaks.

`open_mailbox` (shared.mail.connect) returns a client already connected and logged in:
encryption `none`, `ssl` (TLS from the first byte) or `starttls` (refused with `TLSError`,
before any login, when the server does not offer it); certificates and host names checked
unless the properties opt out; `connect_timeout` on the connection and TLS handshake,
`timeout` on every later read. With `debug`, lines go to the `mailpoll.wire` logger,
credentials redacted. Use it as a context manager: leaving the block logs out.

    folders() -> list[str]                  every selectable folder (POP3: ["INBOX"])
    select(folder) -> FolderInfo            UIDVALIDITY, UIDNEXT, message count
    list_new(folder, after_uid=0, limit=)   refs of the messages above the UID cursor, oldest
                                            first, with size and INTERNALDATE (POP3: every
                                            message, by UIDL; the caller skips those it has)
    fetch(refs) -> Iterator[RemoteMessage | Rejected]
                                            the exact bytes, never setting \\Seen, in chunks
                                            of `fetch_chunk`; a message over `max_message_mb`
                                            comes out as `Rejected` (its MessageError inside)
                                            in its place, and the others still come
    mark_read(refs), move(refs, folder), delete(refs)
                                            once a message is safely stored; only the given
                                            messages are touched. POP3 raises ConfigError for
                                            mark_read and move; its deletions take effect at
                                            close() (QUIT), which raises if they did not
    close()                                 log out; safe to call twice

Refs outlive the session (deletion N days later works): IMAP names a message by folder,
UIDVALIDITY and UID, POP3 by UIDL. IMAP refs whose UIDVALIDITY is no longer the folder's
raise `FolderError` and nothing is touched: those UIDs now name other messages. Every failure
is a `shared.errors` error; library exceptions never leave the adapters.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, Protocol, Self

from shared.errors import MailpollError, MessageError
from shared.properties import Properties

Encryption = Literal["none", "ssl", "starttls"]
MailProtocol = Literal["imap", "pop3"]
INBOX = "INBOX"
# Told the server's certificate once STARTTLS has succeeded (Test Configuration reports it).
StartedTLS = Callable[[dict[str, Any] | None], None]


@dataclass(frozen=True)
class Endpoint:
    """Where and how to connect; the properties carry time-outs, TLS options and limits."""

    host: str
    port: int
    encryption: Encryption
    properties: Properties

    def __str__(self) -> str:
        return f"{self.host}:{self.port} ({self.encryption})"


@dataclass(frozen=True)
class Credentials:
    """A login and its password (or token), resolved just before connecting."""

    login: str
    password: str  # or, with mechanism xoauth2, the OAuth2 access token
    mechanism: Literal["password", "xoauth2"] = "password"

    def __repr__(self) -> str:
        return f"Credentials(login={self.login!r}, password='***', mechanism={self.mechanism!r})"

    __str__ = __repr__


@dataclass(frozen=True)
class FolderInfo:
    """What SELECT tells about a folder (POP3: only the message count)."""

    uidvalidity: int | None
    uidnext: int | None
    exists: int


@dataclass(frozen=True)
class MessageRef:
    """A message on the server: IMAP by (folder, uidvalidity, uid), POP3 by uidl."""

    folder: str
    uid: int | None = None
    uidvalidity: int | None = None
    uidl: str | None = None
    size: int | None = None
    internal_date: datetime | None = None

    def __str__(self) -> str:
        if self.uid is not None:
            return f"{self.folder} uid {self.uid} (uidvalidity {self.uidvalidity})"
        return f"{self.folder} uidl {self.uidl}"


@dataclass(frozen=True)
class RemoteMessage:
    """A fetched message: its identity on the server and its exact bytes."""

    folder: str
    uidvalidity: int | None
    uid: int | None
    uidl: str | None
    size: int
    internal_date: datetime | None
    raw: bytes

    @property
    def ref(self) -> MessageRef:
        return MessageRef(
            self.folder, self.uid, self.uidvalidity, self.uidl, self.size, self.internal_date
        )


@dataclass(frozen=True)
class Rejected:
    """A message that cannot be taken, for a reason of its own; the others are unaffected."""

    ref: MessageRef
    error: MessageError


def too_large(ref: MessageRef, size: int, max_mb: int) -> Rejected | None:
    """The rejection for a message over the account's `max_message_mb`, else None."""
    if size <= max_mb * 1024 * 1024:
        return None
    return Rejected(ref, MessageError(f"{ref}: {size} bytes is over max_message_mb={max_mb}"))


def by_folder(refs: Sequence[MessageRef]) -> dict[str, list[MessageRef]]:
    """Refs grouped by folder, each group in the order given."""
    groups: dict[str, list[MessageRef]] = {}
    for ref in refs:
        groups.setdefault(ref.folder, []).append(ref)
    return groups


def uids_of(refs: Sequence[MessageRef]) -> list[int]:
    return [ref.uid for ref in refs if ref.uid is not None]


def chunked(items: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


class Closing:
    """Base of the clients: `with client:` closes it; a close failure never hides the error
    that left the block."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()
            return
        with contextlib.suppress(MailpollError):
            self.close()


class MailboxClient(Protocol):
    """A logged-in session with one mailbox; see the module docstring."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def folders(self) -> list[str]: ...

    def select(self, folder: str) -> FolderInfo: ...

    def list_new(
        self, folder: str, after_uid: int = 0, *, limit: int | None = None
    ) -> list[MessageRef]: ...

    def count_new(self, folder: str, after_uid: int = 0) -> int:
        """How many messages `list_new` would give without a limit (for `mailpoll status`)."""
        ...

    def fetch(self, refs: Sequence[MessageRef]) -> Iterator[RemoteMessage | Rejected]: ...

    def mark_read(self, refs: Sequence[MessageRef]) -> None: ...

    def move(self, refs: Sequence[MessageRef], folder: str) -> None: ...

    def delete(self, refs: Sequence[MessageRef]) -> None: ...

    def close(self) -> None: ...

    def peer_certificate(self) -> dict[str, Any] | None:
        """The server's certificate when the session runs over TLS (for Test Configuration)."""
        ...
