"""IMAP syntax the watcher needs: strings as quoted strings or literals, capability words,
and the counts an IDLE reports. Pure functions, no I/O."""

from __future__ import annotations

import re

LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n$")  # a line that a literal of that many bytes follows
CAPABILITY = re.compile(rb"\[CAPABILITY ([^\]]*)\]", re.IGNORECASE)
CODE = re.compile(rb"\[(UIDVALIDITY|UIDNEXT) (\d+)\]", re.IGNORECASE)
_COUNT = re.compile(rb"^\* (\d+) (EXISTS|EXPUNGE)\b", re.IGNORECASE)
_QUOTABLE = re.compile(r"^[\x20-\x7e]*$")
USED = frozenset({"IDLE", "STARTTLS", "LOGINDISABLED", "SASL-IR"})


def compose(command: bytes, *arguments: str) -> list[bytes]:
    """A command with string arguments: quoted when printable ASCII, else literals. Returns
    the command line and the pieces sent after each `+` (a literal's bytes and what follows)."""
    pieces = [command]
    for argument in arguments:
        if _QUOTABLE.match(argument):
            escaped = argument.replace("\\", "\\\\").replace('"', '\\"')
            pieces[-1] += b' "' + escaped.encode() + b'"'
        else:
            data = argument.encode("utf-8")
            pieces[-1] += b" {%d}" % len(data)
            pieces.append(data)
    return pieces


def words(text: bytes) -> frozenset[str]:
    """The capabilities the watcher uses, of those listed: keeping all (often 40 words) would
    cost a few KiB per connection."""
    return frozenset(word.upper() for word in text.decode("ascii", "replace").split()) & USED


def counts(lines: list[bytes]) -> list[tuple[str, int]]:
    found = (_COUNT.match(line) for line in lines)
    return [(match[2].decode().upper(), int(match[1])) for match in found if match is not None]
