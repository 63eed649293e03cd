"""The IMAP mailbox client on imapclient; its exceptions become `shared.errors` here only."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from typing import Any

from imapclient import DELETED, SEEN, IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError
from imapclient.imapclient import SocketTimeout

from shared.errors import (
    AuthenticationError,
    ConnectError,
    FolderError,
    MailpollError,
    ServerBusyError,
    TLSError,
    TransientError,
)
from shared.mail.client import (
    Closing,
    Credentials,
    Endpoint,
    FolderInfo,
    MessageRef,
    Rejected,
    RemoteMessage,
    StartedTLS,
    by_folder,
    chunked,
    too_large,
    uids_of,
)
from shared.mail.fetch_reader import uid_fetch
from shared.mail.greeting import explained
from shared.mail.tls import network_error, ssl_context
from shared.mail.wire import WireTrace, attach_imapclient
from shared.mail.words import server_words

log = logging.getLogger(__name__)

METADATA_CHUNK = 1000  # UIDs per UID FETCH of INTERNALDATE and RFC822.SIZE: small answers
# Response codes (RFC 5530) that mean "try later"; SERVERBUG is not one: it can be one message.
_BUSY = ("[UNAVAILABLE]", "[INUSE]", "[LIMIT]")


class ImapMailbox(Closing):
    """A logged-in IMAP session; see `shared.mail.client` for the contract."""

    def __init__(
        self,
        endpoint: Endpoint,
        credentials: Credentials,
        *,
        account: str,
        debug: bool = False,
        on_starttls: StartedTLS | None = None,
    ) -> None:
        """`on_starttls` is given the server's certificate once STARTTLS has succeeded."""
        self.endpoint = endpoint
        self.account = account
        self._where = f"IMAP {endpoint}"
        self._trace = WireTrace(account, "imap", enabled=debug)
        self._selected: tuple[str, FolderInfo] | None = None
        self._broken = False
        self._client: Any = self._open(credentials, on_starttls)

    def _open(
        self,
        credentials: Credentials,
        on_starttls: StartedTLS | None,
    ) -> Any:
        props = self.endpoint.properties
        encryption = self.endpoint.encryption
        context = ssl_context(props) if encryption != "none" else None
        timeout = SocketTimeout(connect=props.connect_timeout, read=props.timeout)
        handshake = encryption == "ssl"
        with explained("imap", self.endpoint), self._errors("connect", handshake=handshake):
            client = IMAPClient(
                self.endpoint.host,
                self.endpoint.port,
                ssl=encryption == "ssl",
                ssl_context=context,
                timeout=timeout,
            )
        try:
            client.normalise_times = False  # INTERNALDATE with its zone, not naive local time
            attach_imapclient(client, self._trace)
            self._trace.received(client._imap.welcome.decode("utf-8", "replace"))
            if encryption == "starttls":
                with self._errors("CAPABILITY"):
                    offered = client.has_capability("STARTTLS")
                if not offered:  # never fall back to a plain-text login
                    raise TLSError(f"{self._where}: the server does not offer STARTTLS")
                with self._errors("STARTTLS", handshake=True):
                    client.starttls(context)
                if on_starttls is not None:
                    on_starttls(client.socket().getpeercert())
            with self._errors("LOGIN"):
                if credentials.mechanism == "xoauth2":
                    client.oauth2_login(credentials.login, credentials.password)
                else:
                    client.login(credentials.login, credentials.password)
        except BaseException:
            with contextlib.suppress(Exception):
                client.shutdown()
            raise
        log.debug("%s: logged in to %s as %s", self.account, self._where, credentials.login)
        return client

    @contextlib.contextmanager
    def _errors(
        self, doing: str, *, handshake: bool = False, folder: str | None = None
    ) -> Iterator[None]:
        """Translate what imapclient, imaplib, ssl and socket raise while `doing` something."""
        try:
            yield
        except MailpollError:
            raise
        except LoginError as error:
            words = server_words(str(error))
            raise AuthenticationError(f"{self._where}: login refused: {words}") from None
        except IMAPClientAbortError as error:
            self._broken = True
            words = server_words(str(error))
            raise ConnectError(f"{self._where}: connection lost during {doing}: {words}") from None
        except IMAPClientError as error:
            text = server_words(str(error))
            if folder is not None:
                raise FolderError(f"{self._where}: folder {folder!r}: {text}") from None
            if any(code in text for code in _BUSY):
                raise ServerBusyError(f"{self._where}: {doing}: {text}") from None
            raise TransientError(f"{self._where}: {doing} refused: {text}") from None
        except OSError as error:
            self._broken = True
            raise network_error(error, self._where, handshake=handshake) from None

    def _capable(self, name: str) -> bool:
        with self._errors("CAPABILITY"):
            return bool(self._client.has_capability(name))

    def folders(self) -> list[str]:
        with self._errors("LIST"):
            listing = self._client.list_folders()
        return [
            str(name)
            for flags, _delimiter, name in listing
            if not {b"\\Noselect", b"\\NonExistent"} & {bytes(flag) for flag in flags}
        ]

    def select(self, folder: str) -> FolderInfo:
        with self._errors("SELECT", folder=folder):
            answer = self._client.select_folder(folder)
        info = FolderInfo(
            uidvalidity=answer.get(b"UIDVALIDITY"),
            uidnext=answer.get(b"UIDNEXT"),
            exists=int(answer.get(b"EXISTS", 0)),
        )
        self._selected = (folder, info)
        return info

    def _use(self, folder: str, refs: Sequence[MessageRef] = ()) -> FolderInfo:
        """Select `folder` unless it is, and refuse refs from another UIDVALIDITY."""
        if self._selected is not None and self._selected[0] == folder:
            info = self._selected[1]
        else:
            info = self.select(folder)
        stale = [ref for ref in refs if ref.uidvalidity not in (None, info.uidvalidity)]
        if stale:
            raise FolderError(
                f"{self._where}: folder {folder!r} now has UIDVALIDITY {info.uidvalidity}, "
                f"not {stale[0].uidvalidity}: its old UIDs name other messages"
            )
        return info

    def list_new(
        self, folder: str, after_uid: int = 0, *, limit: int | None = None
    ) -> list[MessageRef]:
        info = self._use(folder)
        with self._errors("UID SEARCH"):
            found = self._client.search(["UID", f"{after_uid + 1}:*"])
        # `n:*` always matches the highest UID, even when it is below n: filter again.
        uids = sorted(uid for uid in found if uid > after_uid)[:limit]
        refs: list[MessageRef] = []
        for chunk in chunked(uids, METADATA_CHUNK):
            with self._errors("UID FETCH"):
                data = uid_fetch(self._client, chunk, [b"INTERNALDATE", b"RFC822.SIZE"])
            for uid in chunk:
                item = data.get(uid)  # missing: expunged since the search
                if item is not None:
                    size, date = item.get(b"RFC822.SIZE"), item.get(b"INTERNALDATE")
                    refs.append(MessageRef(folder, uid, info.uidvalidity, None, size, date))
        return refs

    def count_new(self, folder: str, after_uid: int = 0) -> int:
        self._use(folder)
        with self._errors("UID SEARCH"):
            found = self._client.search(["UID", f"{after_uid + 1}:*"])
        return sum(1 for uid in found if uid > after_uid)

    def fetch(self, refs: Sequence[MessageRef]) -> Iterator[RemoteMessage | Rejected]:
        chunk_size = self.endpoint.properties.fetch_chunk
        for folder, group in by_folder(refs).items():
            info = self._use(folder, group)
            for start in range(0, len(group), chunk_size):
                yield from self._fetch_chunk(group[start : start + chunk_size], info)

    def _fetch_chunk(
        self, refs: list[MessageRef], info: FolderInfo
    ) -> Iterator[RemoteMessage | Rejected]:
        """One UID FETCH; items come out in the order of `refs`, rejections in their place."""
        max_mb = self.endpoint.properties.max_message_mb
        sizes = {ref.uid: ref.size for ref in refs if ref.uid is not None}
        unsized = [uid for uid, size in sizes.items() if size is None]
        if unsized:
            with self._errors("UID FETCH"):
                answer = uid_fetch(self._client, unsized, [b"RFC822.SIZE"])
            sizes.update({uid: item.get(b"RFC822.SIZE") for uid, item in answer.items()})
        verdicts: dict[int, Rejected | None] = {
            uid: too_large(ref, size, max_mb)
            for ref in refs
            if (uid := ref.uid) is not None and (size := sizes.get(uid)) is not None
        }
        wanted = [uid for uid, rejected in verdicts.items() if rejected is None]
        # The listing gave each message's INTERNALDATE already: asked again only when missing.
        dates = {ref.uid: ref.internal_date for ref in refs if ref.internal_date is not None}
        items = [b"BODY.PEEK[]"] if all(uid in dates for uid in wanted) else [
            b"BODY.PEEK[]", b"INTERNALDATE"
        ]  # fmt: skip
        data: dict[int, Any] = {}
        if wanted:
            with self._errors("UID FETCH"):
                data = uid_fetch(self._client, wanted, items)
        folder = refs[0].folder
        for uid, rejected in verdicts.items():
            if rejected is not None:
                yield rejected
                continue
            item = data.get(uid, {})
            raw = item.get(b"BODY[]")
            if raw is None:
                log.info("%s: %s uid %s vanished before its fetch", self.account, folder, uid)
                continue
            date = dates.get(uid) or item.get(b"INTERNALDATE")
            message = RemoteMessage(folder, info.uidvalidity, uid, None, len(raw), date, raw)
            yield too_large(message.ref, message.size, max_mb) or message

    def mark_read(self, refs: Sequence[MessageRef]) -> None:
        for folder, group in by_folder(refs).items():
            self._use(folder, group)
            if uids := uids_of(group):
                with self._errors("UID STORE"):
                    self._client.add_flags(uids, [SEEN], silent=True)

    def move(self, refs: Sequence[MessageRef], folder: str) -> None:
        for source, group in by_folder(refs).items():
            self._use(source, group)
            uids = uids_of(group)
            if uids and self._capable("MOVE"):
                with self._errors("UID MOVE", folder=folder):
                    self._client.move(uids, folder)
            elif uids:
                with self._errors("UID COPY", folder=folder):
                    self._client.copy(uids, folder)
                self._expunge(uids)

    def delete(self, refs: Sequence[MessageRef]) -> None:
        for folder, group in by_folder(refs).items():
            self._use(folder, group)
            if uids := uids_of(group):
                self._expunge(uids)

    def _expunge(self, uids: list[int]) -> None:
        """Flag and expunge exactly these UIDs, never other messages flagged \\Deleted."""
        uidplus = self._capable("UIDPLUS")
        with self._errors("UID EXPUNGE"):
            self._client.add_flags(uids, [DELETED], silent=True)
            if uidplus:
                self._client.uid_expunge(uids)
                return
            others = set(self._client.search(["DELETED"])) - set(uids)
            if others:
                log.warning(
                    "%s: no UIDPLUS and %d other messages flagged deleted: not expunging",
                    self.account,
                    len(others),
                )
                return
            self._client.expunge()

    def peer_certificate(self) -> dict[str, Any] | None:
        sock = getattr(getattr(self._client, "_imap", None), "sock", None)
        getpeercert = getattr(sock, "getpeercert", None)
        return getpeercert() if getpeercert else None

    def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        if not self._broken:
            try:
                client.logout()
                return
            except Exception as error:  # the session is over either way
                log.info(
                    "%s: %s: logout failed: %s", self.account, self._where, server_words(str(error))
                )
        with contextlib.suppress(Exception):
            client.shutdown()
