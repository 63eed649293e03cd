"""Protocol traces for accounts with `debug` on, credentials always redacted; traced poplib."""

from __future__ import annotations

import contextlib
import logging
import poplib
import re
import ssl
from collections.abc import Iterator
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
        line = b" ".join(w if len(w) < 200 else b"{%d}" % len(w) for w in words)
        trace.sent(line.decode("utf-8", "replace"))
        return raw_command(command, args, uid=uid)

    client._raw_command = traced


class TracedPOP3(poplib.POP3):
    """poplib with its lines traced through a `WireTrace` and no 2048-byte line limit.

    The response to RETR is traced as a line count: message bodies stay out of the logs.
    """

    trace: WireTrace
    max_line: int

    @contextlib.contextmanager
    def _closed_on_error(self) -> Iterator[None]:
        """poplib leaves the socket open when the greeting fails: close it."""
        try:
            yield
        except BaseException:
            for name in ("file", "sock"):
                with contextlib.suppress(Exception):
                    getattr(self, name).close()
            raise

    def _putcmd(self, line: str) -> None:
        self.trace.sent(line)
        self.sock.sendall(line.encode(self.encoding) + b"\r\n")

    def _getline(self) -> tuple[bytes, int]:
        line = self.file.readline(self.max_line + 1)
        if len(line) > self.max_line:
            raise poplib.error_proto("-ERR line too long")
        if not line:
            raise poplib.error_proto("-ERR EOF")
        octets = len(line)
        if line[-2:] == b"\r\n":
            return line[:-2], octets
        if line[:1] == b"\r":
            return line[1:-1], octets
        return line[:-1], octets

    def _getresp(self) -> bytes:
        response, _ = self._getline()
        self.trace.received(response.decode("utf-8", "replace"))
        if not response.startswith(b"+"):
            raise poplib.error_proto(response)
        return response

    def _getlongresp(self) -> tuple[bytes, list[bytes], int]:
        response = self._getresp()
        lines: list[bytes] = []
        octets = 0
        line, size = self._getline()
        while line != b".":
            if line.startswith(b".."):  # dot-stuffing
                size -= 1
                line = line[1:]
            octets += size
            lines.append(line)
            line, size = self._getline()
        self.trace.received(f"({len(lines)} lines, {octets} octets)")
        return response, lines, octets


class _POP3(TracedPOP3):
    def __init__(
        self, host: str, port: int, *, timeout: float, trace: WireTrace, limit: int
    ) -> None:
        self.trace, self.max_line = trace, limit
        with self._closed_on_error():
            poplib.POP3.__init__(self, host, port, timeout)


class _POP3SSL(TracedPOP3, poplib.POP3_SSL):
    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout: float,
        context: ssl.SSLContext | None,
        trace: WireTrace,
        limit: int,
    ) -> None:
        self.trace, self.max_line = trace, limit
        with self._closed_on_error():
            poplib.POP3_SSL.__init__(self, host, port, timeout=timeout, context=context)


def traced_pop3(
    host: str,
    port: int,
    *,
    implicit_tls: ssl.SSLContext | None,
    timeout: float,
    trace: WireTrace,
    max_line: int,
) -> TracedPOP3:
    """A connected poplib session (the greeting read); TLS from the first byte if a context."""
    if implicit_tls is not None:
        return _POP3SSL(
            host, port, timeout=timeout, context=implicit_tls, trace=trace, limit=max_line
        )
    return _POP3(host, port, timeout=timeout, trace=trace, limit=max_line)
