"""The metadata an event carries about a raw message, read without ever raising."""

from __future__ import annotations

import email
import functools
import logging
from datetime import UTC
from email import policy
from email.errors import NonASCIILocalPartDefect, UndecodableBytesDefect
from email.message import Message
from email.policy import EmailPolicy
from email.utils import getaddresses
from typing import Any

from shared.mail.fastparse import fast_metadata
from shared.mail.metadata import Attachment, MessageMetadata

__all__ = ["Attachment", "MessageMetadata", "email_metadata", "parse_metadata"]
log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 200
_IGNORED_DEFECTS = (UndecodableBytesDefect,)


def _clean(text: str) -> str:
    """Undo the surrogate escapes of raw 8-bit header bytes: read them as UTF-8 (RFC 6532)."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that did not come from a byte
        return text.encode("utf-8", "replace").decode("utf-8")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:  # legacy 8-bit mail is nearly always Windows-1252
        return raw.decode("cp1252", "replace")


class _Reader:
    """Reads one parsed message, collecting defects instead of letting anything escape."""

    def __init__(self, message: Message) -> None:
        self.message = message
        self.problems: list[str] = []

    def note(self, defects: Any) -> None:
        for defect in defects or ():
            if isinstance(defect, _IGNORED_DEFECTS):
                continue
            name = type(defect).__name__
            if name not in self.problems:
                self.problems.append(name)

    def failed(self, what: str, error: Exception) -> None:
        log.debug("cannot read %s: %r", what, error)
        self.problems.append(f"{what}: {type(error).__name__}")

    def header(self, name: str, *, unless: tuple[type[Exception], ...] = ()) -> Any:
        """The parsed header, its defects noted (except those of the types in `unless`)."""
        try:
            value = self.message.get(name)
        except Exception as error:
            self.failed(name, error)
            return None
        if value is not None:
            defects = getattr(value, "defects", ())
            self.note([defect for defect in defects if not isinstance(defect, unless)])
        return value

    def raw(self, name: str) -> str | None:
        """The header's text as received (8-bit bytes as surrogate escapes)."""
        found = next((v for k, v in self.message.raw_items() if k.lower() == name), None)
        return found if isinstance(found, str) else None

    def text(self, name: str) -> str | None:
        value = self.header(name)
        if value is None:
            return None
        text = _clean(" ".join(str(value).split()))
        if "\ufffd" in text:  # the policy gave up on raw 8-bit bytes: try them as cp1252
            raw = self.raw(name)
            if raw is not None:
                text = _clean(" ".join(raw.split()))
        return text or None

    def addresses(self, name: str) -> list[str]:
        # The email package flags every non-ASCII local part; RFC 6532 allows them in UTF-8.
        value = self.header(name, unless=(NonASCIILocalPartDefect,))
        if value is None:
            return []
        try:
            found = [a.addr_spec for a in value.addresses]
        except Exception:
            # Fall back to the lenient old parser on the undecoded text.
            found = [addr for _, addr in getaddresses([str(value)])]
        addresses = [_clean(a) for a in found if a and "@" in a]
        if not all(self._rfc6532(name, address) for address in addresses):
            self.note([NonASCIILocalPartDefect()])
        return addresses

    def _rfc6532(self, name: str, address: str) -> bool:
        """Whether a non-ASCII local part is sent as RFC 6532 allows: as UTF-8 in the header
        itself (not in an encoded word, which RFC 2047 forbids in an address)."""
        local = address.rpartition("@")[0]
        if local.isascii():
            return True
        raw = self.raw(name)
        try:
            text = raw.encode("utf-8", "surrogateescape").decode("utf-8") if raw else ""
        except UnicodeError:  # 8-bit bytes that are not UTF-8
            return False
        return f"{local}@" in text

    def date(self) -> str | None:
        value = self.header("date")
        when = getattr(value, "datetime", None)
        if when is None:
            return None
        try:
            if when.tzinfo is None:  # "-0000": UTC with an unknown local zone (RFC 5322)
                when = when.replace(tzinfo=UTC)
            return str(when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        except (ValueError, OverflowError) as error:
            self.failed("date", error)
            return None

    def attachments(self) -> list[Attachment]:
        found: list[Attachment] = []
        self._walk(self.message, found, depth=0)
        return found

    def _walk(self, part: Message, found: list[Attachment], depth: int) -> None:
        self.note(part.defects)
        if depth > 50:
            self.problems.append("MIME nesting too deep")
            return
        content_type = part.get_content_type()
        filename = self._filename(part)
        is_attachment = filename is not None or part.get_content_disposition() == "attachment"
        if part.is_multipart() and not (is_attachment and content_type == "message/rfc822"):
            for child in part.get_payload():
                if isinstance(child, Message):
                    self._walk(child, found, depth + 1)
            return
        size = self._size(part)
        if is_attachment:
            found.append({"filename": filename, "content_type": content_type, "size": size})

    def _filename(self, part: Message) -> str | None:
        try:
            name = part.get_filename()
        except Exception as error:
            self.failed("filename", error)
            return None
        return _clean(name) if name else None

    def _size(self, part: Message) -> int:
        """Decoded payload bytes; decoding also registers base64/quoted-printable defects."""
        try:
            if part.is_multipart():  # an attached message: its size as stored
                children = part.get_payload()
                return sum(len(c.as_bytes()) for c in children if isinstance(c, Message))
            payload = part.get_payload(decode=True)
        except Exception as error:
            self.failed("payload", error)
            return 0
        self.note(part.defects)
        return len(payload) if isinstance(payload, bytes) else 0


@functools.lru_cache(maxsize=1024)
def _parsed_header(name: str, value: str) -> Any:
    return policy.default.header_fetch_parse(name, value)


class _CachingPolicy(EmailPolicy):
    """policy.default, but a header value is parsed once, not on every `get()`: the parser
    and the MIME walk ask for Content-Type dozens of times per message (half a poll's CPU)."""

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if hasattr(value, "name"):  # parsed already
            return value
        if len(value) > 2048:  # rare and long: not worth a cache slot
            return policy.default.header_fetch_parse(name, value)
        return _parsed_header(name, value)


_POLICY = _CachingPolicy()


def parse_metadata(raw: bytes) -> MessageMetadata:
    """Read a raw message's metadata; never raises, however broken the message is.

    Well-formed mail is read by the fast reader (`shared.mail.fastparse`); everything it
    declines, by the stdlib `email` package, which also names what is wrong with it.
    """
    return fast_metadata(raw) or email_metadata(raw)


def email_metadata(raw: bytes) -> MessageMetadata:
    """`parse_metadata` by the stdlib `email` package alone (`policy.default`)."""
    try:
        message = email.message_from_bytes(raw, policy=_POLICY)
        reader = _Reader(message)
        message_id = reader.text("message-id")
        subject = reader.text("subject")
        from_, to, cc = (reader.addresses(name) for name in ("from", "to", "cc"))
        date = reader.date()
        attachments = reader.attachments()
        return MessageMetadata(
            message_id=message_id,
            subject=subject,
            from_=from_,
            to=to,
            cc=cc,
            date=date,
            attachments=attachments,
            parse_error="; ".join(reader.problems)[:MAX_ERROR_CHARS] or None,
        )
    except Exception as error:  # includes RecursionError on absurdly nested input
        log.warning("cannot parse message of %d bytes: %r", len(raw), error)
        return MessageMetadata(parse_error=f"unparseable: {type(error).__name__}")
