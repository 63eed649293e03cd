"""The POP3 mailbox client on poplib; its exceptions become `shared.errors` here only."""

from __future__ import annotations

import contextlib
import logging
import poplib
from collections.abc import Iterator, Sequence
from typing import Any

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
    Closing,
    Credentials,
    Endpoint,
    FolderInfo,
    MessageRef,
    Rejected,
    RemoteMessage,
    StartedTLS,
    too_large,
)
from shared.mail.greeting import explained
from shared.mail.tls import network_error, ssl_context
from shared.mail.wire import TracedPOP3, WireTrace, traced_pop3
from shared.mail.words import server_words
from shared.oauth import xoauth2

log = logging.getLogger(__name__)


class Pop3Mailbox(Closing):
    """A logged-in POP3 session: one folder (INBOX), messages known by UIDL."""

    def __init__(
        self,
        endpoint: Endpoint,
        credentials: Credentials,
        *,
        account: str,
        debug: bool = False,
        on_starttls: StartedTLS | None = None,
    ) -> None:
        """`on_starttls` is given the server's certificate once STLS has succeeded."""
        self.endpoint = endpoint
        self.account = account
        self._where = f"POP3 {endpoint}"
        self._trace = WireTrace(account, "pop3", enabled=debug)
        self._index: dict[str, tuple[int, int]] | None = None  # uidl -> (number, size)
        self._broken = False
        self._pop: TracedPOP3 | None = self._open(credentials, on_starttls)

    def _open(
        self,
        credentials: Credentials,
        on_starttls: StartedTLS | None,
    ) -> TracedPOP3:
        props = self.endpoint.properties
        encryption = self.endpoint.encryption
        context = ssl_context(props) if encryption != "none" else None
        pop: TracedPOP3 | None = None
        try:
            handshake = encryption == "ssl"
            with explained("pop3", self.endpoint), self._errors("connect", handshake=handshake):
                pop = traced_pop3(
                    self.endpoint.host,
                    self.endpoint.port,
                    implicit_tls=context if encryption == "ssl" else None,
                    timeout=props.connect_timeout,
                    trace=self._trace,
                    max_line=props.max_message_mb * 1024 * 1024 + 2,  # a line: the whole message
                )
            pop.sock.settimeout(props.timeout)
            if encryption == "starttls":
                with self._errors("CAPA"):
                    offered = "STLS" in pop.capa()
                if not offered:
                    raise TLSError(f"{self._where}: the server does not offer STLS")
                with self._errors("STLS", handshake=True):
                    pop.stls(context)
                if on_starttls is not None:
                    on_starttls(_certificate(pop.sock))
            with self._errors("login", login=True):
                if credentials.mechanism == "xoauth2":
                    response = xoauth2(credentials.login, credentials.password)
                    pop._shortcmd(f"AUTH XOAUTH2 {response}")  # type: ignore[attr-defined]
                else:
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
            text = server_words(error.args[0] if error.args else b"")
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

    def _session(self) -> TracedPOP3:
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

    def count_new(self, folder: str, after_uid: int = 0) -> int:
        return len(self.list_new(folder, after_uid))

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

    def peer_certificate(self) -> dict[str, Any] | None:
        return _certificate(getattr(self._pop, "sock", None))

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


def _certificate(sock: object) -> dict[str, Any] | None:
    getpeercert = getattr(sock, "getpeercert", None)
    return getpeercert() if getpeercert else None
