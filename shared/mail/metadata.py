"""The metadata a "message received" event carries about a raw message: a frozen value."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypedDict


class Attachment(TypedDict):
    """One attached file: the name it was sent with, its type, its decoded size in bytes."""

    filename: str | None
    content_type: str
    size: int


@dataclass(frozen=True)
class MessageMetadata:
    """What consumers want to know without opening the .eml.

    `parse_error` is None when the message parsed cleanly. Otherwise a short string: the
    names of the defects the `email` package found (in the MIME structure, in a part's
    payload encoding, or in a header we read: From, To, Cc, Date, Subject, Message-ID), or
    the exception that stopped parsing. Such a message still gets every field that could be
    read, so it is stored and announced like any other, flagged for consumers. Raw 8-bit
    headers are not a defect here (UTF-8 per RFC 6532, else read as Windows-1252), nor is
    an address with a UTF-8 local part (RFC 6532: `jöran@bücher.example`, kept readable);
    one whose non-ASCII local part is not UTF-8 or comes from an encoded word is
    (NonASCIILocalPartDefect). A missing Date or Message-ID is not a defect either.
    Attachments are the parts with a file name or `Content-Disposition: attachment`; an
    attached message counts as one.
    """

    message_id: str | None = None
    subject: str | None = None
    from_: list[str] = field(default_factory=list)
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    date: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    parse_error: str | None = None

    def as_event_data(self) -> dict[str, Any]:
        """The fields under the names the event contract uses (`from`, not `from_`)."""
        return {
            "message_id": self.message_id,
            "subject": self.subject,
            "from": list(self.from_),
            "to": list(self.to),
            "cc": list(self.cc),
            "date": self.date,
        }
