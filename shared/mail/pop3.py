"""The POP3 mailbox client on poplib; its exceptions become `shared.errors` here only."""

from __future__ import annotations

import contextlib
import logging
import poplib
import ssl
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import Self

from shared.errors import (
    AuthenticationError,
    ConfigError,
    ConnectError,
    MailpollError,
    ServerBusyError,
    TLSError,
    TransientError,
)
from shared.mail.client import (
    INBOX,
    Credentials,
    Endpoint,
    FolderInfo,
    MessageRef,
    Rejected,
    RemoteMessage,
    too_large,
)
from shared.mail.tls import network_error, ssl_context
from shared.mail.wire import WireTrace

log = logging.getLogger(__name__)


class _Traced(poplib.POP3):
    """poplib's line handling, traced through `WireTrace`, without its 2048-byte line limit."""

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


class _POP3(_Traced):
    def __init__(self, host: str, port: int, *, timeout: float, trace: WireTrace, limit: int):
        self.trace, self.max_line = trace, limit
        with self._closed_on_error():
            poplib.POP3.__init__(self, host, port, timeout)


class _POP3SSL(_Traced, poplib.POP3_SSL):
    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout: float,
        context: ssl.SSLContext | None,
        trace: WireTrace,
        limit: int,
    ):
        self.trace, self.max_line = trace, limit
        with self._closed_on_error():
            poplib.POP3_SSL.__init__(self, host, port, timeout=timeout, context=context)


class Pop3Mailbox:
    """A logged-in POP3 session: one folder (INBOX), messages known by UIDL."""

    def __init__(
        self, endpoint: Endpoint, credentials: Credentials, *, account: str, debug: bool = False
    ) -> None:
        self.endpoint = endpoint
        self.account = account
        self._where = f"POP3 {endpoint}"
        self._trace = WireTrace(account, "pop3", enabled=debug)
        self._index: dict[str, tuple[int, int]] | None = None  # uidl -> (number, size)
        self._broken = False
        self._pop: _Traced | None = self._open(credentials)

    def _open(self, credentials: Credentials) -> _Traced:
        props = self.endpoint.properties
        encryption = self.endpoint.encryption
        context = ssl_context(props) if encryption != "none" else None
        host, port = self.endpoint.host, self.endpoint.port
        limit = props.max_message_mb * 1024 * 1024 + 2  # a line, at most the whole message
        pop: _Traced | None = None
        try:
            with self._errors("connect", handshake=encryption == "ssl"):
                if encryption == "ssl":
                    pop = _POP3SSL(
                        host,
                        port,
                        timeout=props.connect_timeout,
                        context=context,
                        trace=self._trace,
                        limit=limit,
                    )
                else:
                    pop = _POP3(
                        host, port, timeout=props.connect_timeout, trace=self._trace, limit=limit
                    )
            pop.sock.settimeout(props.timeout)
            if encryption == "starttls":
                with self._errors("CAPA"):
                    offered = "STLS" in pop.capa()
                if not offered:
                    raise TLSError(f"{self._where}: the server does not offer STLS")
                with self._errors("STLS", handshake=True):
                    pop.stls(context)
            with self._errors("login", login=True):
                pop.user(credentials.login)
                pop.pass_(credentials.password)
        except BaseException:
            if pop is not None:
                with contextlib.suppress(Exception):
                    pop.close()
            raise
        log.debug("%s: logged in to %s as %s", self.account, self._where, credentials.login)
        return pop

    @contextlib.contextmanager
    def _errors(
        self, doing: str, *, handshake: bool = False, login: bool = False
    ) -> Iterator[None]:
        """Translate what poplib, ssl and socket raise while `doing` something."""
        try:
            yield
        except MailpollError:
            raise
        except poplib.error_proto as error:
            raw = error.args[0] if error.args else b""
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
            if "EOF" in text:
                self._broken = True
                raise ConnectError(f"{self._where}: connection lost during {doing}") from None
            if "[IN-USE]" in text or "[SYS/TEMP]" in text:
                raise ServerBusyError(f"{self._where}: {doing}: {text}") from None
            if login:
                raise AuthenticationError(f"{self._where}: login refused: {text}") from None
            raise TransientError(f"{self._where}: {doing} refused: {text}") from None
        except OSError as error:
            self._broken = True
            raise network_error(error, self._where, handshake=handshake) from None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _session(self) -> _Traced:
        if self._pop is None:
            raise ConnectError(f"{self._where}: the session is closed")
        return self._pop

    def _messages(self) -> dict[str, tuple[int, int]]:
        """UIDL -> (message number, size) for this session, read once (numbers do not change)."""
        if self._index is None:
            pop = self._session()
            with self._errors("UIDL"):
                _, uidl_lines, _ = pop.uidl()
                _, list_lines, _ = pop.list()
            sizes = {int(line.split()[0]): int(line.split()[1]) for line in list_lines}
            self._index = {}
            for line in uidl_lines:
                number, uidl = line.decode("ascii", "replace").split()[:2]
                self._index[uidl] = (int(number), sizes.get(int(number), 0))
        return self._index

    @staticmethod
    def _check_folder(folder: str) -> None:
        if folder.upper() != INBOX:
            raise ConfigError("folder", f"POP3 has only INBOX, not {folder!r}")

    def folders(self) -> list[str]:
        return [INBOX]

    def select(self, folder: str) -> FolderInfo:
        self._check_folder(folder)
        return FolderInfo(uidvalidity=None, uidnext=None, exists=len(self._messages()))

    def list_new(
        self, folder: str, after_uid: int = 0, *, limit: int | None = None
    ) -> list[MessageRef]:
        """Every message (POP3 has no UID cursor): the caller skips the UIDLs it has."""
        self._check_folder(folder)
        refs = [
            MessageRef(INBOX, uidl=uidl, size=size)
            for uidl, (_, size) in sorted(self._messages().items(), key=lambda item: item[1][0])
        ]
        return refs[:limit]

    def fetch(self, refs: Sequence[MessageRef]) -> Iterator[RemoteMessage | Rejected]:
        max_mb = self.endpoint.properties.max_message_mb
        index = self._messages()
        for ref in refs:
            self._check_folder(ref.folder)
            if ref.uidl is None or ref.uidl not in index:
                log.info("%s: %s is no longer on the server", self.account, ref)
                continue
            number, size = index[ref.uidl]
            rejected = too_large(ref, size, max_mb)
            if rejected is not None:
                yield rejected
                continue
            with self._errors(f"RETR {number}"):
                _, lines, _ = self._session().retr(number)
            raw = b"\r\n".join(lines) + b"\r\n" if lines else b""
            message = RemoteMessage(INBOX, None, None, ref.uidl, len(raw), None, raw)
            yield too_large(message.ref, len(raw), max_mb) or message

    def mark_read(self, refs: Sequence[MessageRef]) -> None:
        raise ConfigError("on_email_received", "POP3 cannot mark messages read")

    def move(self, refs: Sequence[MessageRef], folder: str) -> None:
        raise ConfigError("on_email_received", "POP3 cannot move messages to a folder")

    def delete(self, refs: Sequence[MessageRef]) -> None:
        """DELE each message; the server removes them when `close()` ends the session (QUIT)."""
        index = self._messages()
        for ref in refs:
            self._check_folder(ref.folder)
            if ref.uidl in index:
                with self._errors("DELE"):
                    self._session().dele(index[ref.uidl][0])

    def close(self) -> None:
        """QUIT, which commits deletions; raises if it fails so the caller knows they did not."""
        pop, self._pop = self._pop, None
        if pop is None:
            return
        if self._broken:
            with contextlib.suppress(Exception):
                pop.close()
            return
        try:
            with self._errors("QUIT"):
                pop.quit()
        finally:
            with contextlib.suppress(Exception):
                pop.close()
