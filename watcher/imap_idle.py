"""The few IMAP commands a watcher needs (log in, EXAMINE, IDLE, DONE) on an event loop.

imapclient's `idle()` blocks a thread per mailbox; a watcher holds thousands, so this client
runs on asyncio over `watcher.stream`. It logs in the way the poll's client does (STARTTLS or
implicit TLS with the account's TLS properties, LOGIN or XOAUTH2), traces the account's
protocol lines when `debug` is on (credentials never), and raises only `shared.errors`.
"""

from __future__ import annotations

import base64
import contextlib
import os
import ssl
from collections.abc import Iterator
from dataclasses import dataclass

from imapclient import imap_utf7

from shared.errors import (
    AuthenticationError,
    ConnectError,
    FolderError,
    MailpollError,
    ServerTimeoutError,
    TLSError,
    TransientError,
)
from shared.mail.client import Credentials, Endpoint, FolderInfo
from shared.mail.tls import network_error, ssl_context
from shared.mail.wire import WireTrace
from shared.mail.words import server_words
from shared.properties import Properties
from watcher.imap_syntax import CAPABILITY, CODE, LITERAL, compose, counts, words
from watcher.stream import Stream

_CONTEXTS: dict[tuple[object, ...], ssl.SSLContext] = {}


@dataclass
class Answer:
    """A command's tagged result and the untagged lines that came with it."""

    status: str  # OK, NO or BAD
    text: bytes
    untagged: list[bytes]


class IdleClient:
    """A logged-in IMAP session; `idle`, `wait` and `done` watch the examined folder."""

    def __init__(self, stream: Stream, endpoint: Endpoint, trace: WireTrace) -> None:
        self._stream = stream
        self._endpoint = endpoint
        self._trace = trace
        self._where = f"IMAP {endpoint}"
        self._timeout = endpoint.properties.timeout
        self._tag = 0
        self._idle_tag: str | None = None
        self.capabilities: frozenset[str] = frozenset()

    @classmethod
    async def connect(
        cls, endpoint: Endpoint, credentials: Credentials, *, account: str, debug: bool
    ) -> IdleClient:
        """Connect, secure, log in and learn the capabilities; closes the socket on failure."""
        props = endpoint.properties
        where = f"IMAP {endpoint}"
        try:
            stream = await Stream.open(endpoint.host, endpoint.port, timeout=props.connect_timeout)
        except OSError as error:
            raise network_error(error, where) from None
        client = cls(stream, endpoint, WireTrace(account, "imap", enabled=debug))
        try:
            await client._start(credentials)
        except BaseException:
            client.close()
            raise
        return client

    async def _start(self, credentials: Credentials) -> None:
        encryption = self._endpoint.encryption
        if encryption == "ssl":
            await self._tls()
        with self._errors("greeting"):
            greeting = await self._response(self._timeout)
        if not greeting.startswith((b"* OK", b"* PREAUTH")):
            raise ConnectError(f"{self._where}: not an IMAP greeting: {server_words(greeting)}")
        self._learn(greeting)
        if encryption == "starttls":
            if "STARTTLS" not in await self._capable():  # never log in over plain text
                raise TLSError(f"{self._where}: the server does not offer STARTTLS")
            await self._expect("STARTTLS", "STARTTLS")
            await self._tls()
            self.capabilities = frozenset()
        if not greeting.startswith(b"* PREAUTH"):
            await self._login(credentials)
        await self._capable()

    async def _tls(self) -> None:
        context = _shared_context(self._endpoint.properties)
        with self._errors("TLS handshake", handshake=True):
            timeout = self._endpoint.properties.connect_timeout
            await self._stream.start_tls(context, self._endpoint.host, timeout=timeout)

    async def _capable(self) -> frozenset[str]:
        if not self.capabilities:
            await self._expect("CAPABILITY", "CAPABILITY")
        return self.capabilities

    async def _login(self, credentials: Credentials) -> None:
        if credentials.mechanism == "xoauth2":
            token = f"user={credentials.login}\x01auth=Bearer {credentials.password}\x01\x01"
            answer = await self._authenticate("XOAUTH2", base64.b64encode(token.encode()))
        elif "LOGINDISABLED" in await self._capable():
            raise TLSError(f"{self._where}: the server refuses LOGIN here (LOGINDISABLED)")
        else:
            login = compose(b"LOGIN", credentials.login, credentials.password)
            answer = await self._command(*login)
        if answer.status != "OK":
            raise AuthenticationError(f"{self._where}: login refused: {server_words(answer.text)}")
        self._learn(answer.text)

    async def _authenticate(self, mechanism: str, response: bytes) -> Answer:
        if "SASL-IR" in self.capabilities:
            return await self._command(f"AUTHENTICATE {mechanism} ".encode() + response)
        return await self._command(f"AUTHENTICATE {mechanism}".encode(), response)

    async def examine(self, folder: str) -> FolderInfo:
        """Open the folder read-only (the poll sets flags, the watcher never does)."""
        answer = await self._command(*compose(b"EXAMINE", imap_utf7.encode(folder).decode()))
        if answer.status != "OK":
            raise FolderError(f"{self._where}: folder {folder!r}: {server_words(answer.text)}")
        codes = {m[1].upper(): int(m[2]) for line in answer.untagged for m in CODE.finditer(line)}
        exists = [count for kind, count in counts(answer.untagged) if kind == "EXISTS"]
        return FolderInfo(codes.get(b"UIDVALIDITY"), codes.get(b"UIDNEXT"), (exists or [0])[-1])

    async def idle(self) -> None:
        """Start IDLE (RFC 2177); returns once the server is idling."""
        tag = self._next_tag()
        await self._send(f"{tag} IDLE".encode())
        with self._errors("IDLE"):
            while not (line := await self._response(self._timeout)).startswith(b"+"):
                if line.startswith(tag.encode() + b" "):
                    raise TransientError(f"{self._where}: IDLE refused: {server_words(line)}")
                self._untagged(line)
        self._idle_tag = tag

    async def wait(self, timeout: float) -> list[tuple[str, int]]:
        """What the server says while idling, within `timeout` seconds ([] when silent):
        ("EXISTS", n) for new mail, ("EXPUNGE", n). Raises ConnectError if the session ends."""
        with self._errors("IDLE"):
            try:
                line = await self._response(timeout)
            except TimeoutError:
                return []
        return counts([self._untagged(line)])

    async def done(self) -> list[tuple[str, int]]:
        """End IDLE; returns what the server said meanwhile (new mail may come just then)."""
        tag, self._idle_tag = self._idle_tag, None
        await self._send(b"DONE")
        lines: list[bytes] = []
        with self._errors("DONE"):
            while not (line := await self._response(self._timeout)).startswith(f"{tag} ".encode()):
                lines.append(self._untagged(line))
        return counts(lines)

    async def logout(self) -> None:
        with contextlib.suppress(MailpollError):
            await self._command(b"LOGOUT")

    def close(self) -> None:
        self._stream.close()

    # -- the wire ------------------------------------------------------------------------------

    async def _expect(self, command: str, doing: str) -> Answer:
        answer = await self._command(command.encode())
        if answer.status != "OK":
            raise TransientError(f"{self._where}: {doing} refused: {server_words(answer.text)}")
        return answer

    async def _command(self, line: bytes, *continuations: bytes) -> Answer:
        """Send a tagged command; each continuation (a literal's bytes or a SASL response) goes
        after a `+` from the server and is never traced. Untagged lines come back with it."""
        tag = self._next_tag().encode()
        doing = line.split(b" ", 1)[0].decode("ascii", "replace")
        untagged: list[bytes] = []
        pending = list(continuations)
        await self._send(tag + b" " + line)
        with self._errors(doing):
            while True:
                answer = await self._response(self._timeout)
                if answer.startswith(tag + b" "):
                    status, _, text = answer[len(tag) + 1 :].partition(b" ")
                    self._learn(text)
                    return Answer(status.decode("ascii", "replace").upper(), text, untagged)
                if answer.startswith(b"+"):  # a literal or SASL step: next piece, or cancel
                    await self._send(pending.pop(0) if pending else b"", secret=True)
                else:
                    untagged.append(self._untagged(answer))

    async def _send(self, line: bytes, *, secret: bool = False) -> None:
        self._trace.sent("(credentials)" if secret else line.decode("utf-8", "replace"))
        with self._errors("send"):
            await self._stream.write(line + b"\r\n", timeout=self._timeout)

    async def _response(self, timeout: float) -> bytes:
        """One server response, literals included, without the final CRLF; `timeout` is for
        its first line (a silent IDLE), the command time-out for the literals after it."""
        line = await self._stream.readline(timeout=timeout)
        whole = line
        while (literal := LITERAL.search(line)) is not None:
            try:  # past the first line a time-out is the server's failure, never silence
                whole += await self._stream.readexactly(int(literal[1]), timeout=self._timeout)
                line = await self._stream.readline(timeout=self._timeout)
            except TimeoutError:
                raise ServerTimeoutError(f"{self._where}: a response stopped halfway") from None
            whole += line
        self._trace.received(whole.rstrip(b"\r\n").decode("utf-8", "replace"))
        return whole.rstrip(b"\r\n")

    def _untagged(self, line: bytes) -> bytes:
        if line.upper().startswith(b"* BYE"):
            raise ConnectError(f"{self._where}: the server ended the session: {server_words(line)}")
        if line.upper().startswith(b"* CAPABILITY "):
            self.capabilities = words(line[len(b"* CAPABILITY ") :])
        self._learn(line)
        return line

    def _learn(self, text: bytes) -> None:
        if (found := CAPABILITY.search(text)) is not None:
            self.capabilities = words(found[1])

    def _next_tag(self) -> str:
        self._tag += 1
        return f"W{self._tag}"

    @contextlib.contextmanager
    def _errors(self, doing: str, *, handshake: bool = False) -> Iterator[None]:
        try:
            yield
        except MailpollError:
            raise
        except OSError as error:  # socket, TLS, time-out (TimeoutError), closed by the server
            raise network_error(error, f"{self._where}: {doing}", handshake=handshake) from None


def _shared_context(properties: Properties) -> ssl.SSLContext:
    """One TLS context per distinct TLS setting, shared by every connection that has it: a
    context holds the trusted certificates (the system's are several hundred KiB), and one
    per connection would cost more than the connection. A CA file that changes is read anew."""
    ca_file = properties.tls_ca_file
    stamp = os.stat(ca_file).st_mtime_ns if ca_file and os.path.exists(ca_file) else None
    key = (ca_file, stamp, properties.tls_verify, properties.tls_check_hostname,
           properties.tls_min_version)  # fmt: skip
    context = _CONTEXTS.get(key)
    if context is None:
        if len(_CONTEXTS) >= 64:  # settings that came and went
            _CONTEXTS.clear()
        context = _CONTEXTS[key] = ssl_context(properties)
    return context
