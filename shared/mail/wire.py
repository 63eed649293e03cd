"""Protocol traces for accounts with `debug` on, with credentials always redacted."""

from __future__ import annotations

import logging
import re
from typing import Any

wire_logger = logging.getLogger("mailpoll.wire")

REDACTED = "**REDACTED**"
# IMAP: everything after LOGIN or AUTHENTICATE (user name, password, SASL initial response).
_IMAP_SECRET = re.compile(r"\b(LOGIN|AUTHENTICATE)\b.*", re.IGNORECASE | re.DOTALL)
# POP3: the arguments of the commands that carry a user, password or digest.
_POP3_SECRET = re.compile(r"^(USER|PASS|APOP|AUTH|RPOP)\b.*", re.IGNORECASE | re.DOTALL)


def redact_imap(line: str) -> str:
    """An IMAP line fit for a log: the arguments of LOGIN and AUTHENTICATE hidden."""
    match = _IMAP_SECRET.search(line)
    if match is None:
        return line
    # Keep a closing quote of imaplib's repr() so the line still reads as one value.
    tail = "'" if line.endswith("'") and line[: match.start()].count("'") % 2 else ""
    return f"{line[: match.start()]}{match.group(1)} {REDACTED}{tail}"


def redact_pop3(command: str) -> str:
    """A POP3 command fit for a log: the arguments of USER, PASS, APOP and AUTH hidden."""
    match = _POP3_SECRET.match(command.lstrip())
    if match is None:
        return command
    return f"{match.group(1)} {REDACTED}"


class WireTrace:
    """Logs one account's protocol lines to `mailpoll.wire`, or nothing when debug is off.

    Client lines that may carry a secret are always redacted, whatever the logging set-up;
    message bodies are not traced (imaplib logs a literal's size, POP3 a line count).
    """

    def __init__(self, account: str, protocol: str, *, enabled: bool) -> None:
        self.account = account
        self.protocol = protocol
        self.enabled = enabled

    def sent(self, line: str) -> None:
        if self.enabled:
            wire_logger.debug("%s %s C: %s", self.account, self.protocol, self._redact(line))

    def received(self, line: str) -> None:
        if self.enabled:
            wire_logger.debug("%s %s S: %s", self.account, self.protocol, line)

    def imaplib_message(self, text: str) -> None:
        """Stands in for imaplib's `_mesg`: `> ` lines were sent, `< ` lines received."""
        if not self.enabled:
            return
        if text.startswith(">"):
            self.sent(text[1:].strip())
        elif text.startswith("<"):
            self.received(text[1:].strip())
        else:
            wire_logger.debug("%s %s %s", self.account, self.protocol, redact_imap(text))

    def _redact(self, line: str) -> str:
        return redact_imap(line) if self.protocol == "imap" else redact_pop3(line)


def attach_imapclient(client: Any, trace: WireTrace) -> None:
    """Route an `IMAPClient`'s protocol lines to `trace` (nothing is logged when it is off).

    imaplib reports the lines it sends and reads through `_mesg` (level 4: lines only, not its
    parser's workings); SEARCH goes around imaplib, through imapclient's `_raw_command`.
    """
    if not trace.enabled:
        client._imap.debug = 0
        return
    client._imap.debug = 4
    client._imap._mesg = trace.imaplib_message
    raw_command = client._raw_command

    def traced(command: bytes, args: list[bytes], uid: bool = True) -> Any:
        words = [b"UID"] if uid and client.use_uid else []
        words += [command, *args]
        trace.sent(b" ".join(w if len(w) < 200 else b"{%d}" % len(w) for w in words).decode())
        return raw_command(command, args, uid=uid)

    client._raw_command = traced
