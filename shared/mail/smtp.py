"""Outbound mail over SMTP (smtplib): building a safe message and sending it through one server."""

from __future__ import annotations

import contextlib
import logging
import mimetypes
import re
import smtplib
import socket
import ssl
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid
from pathlib import Path

from shared.errors import (
    AuthenticationError,
    ConfigError,
    ConnectError,
    MailpollError,
    PermanentError,
    ServerBusyError,
    TLSError,
    TransientError,
)
from shared.mail.client import Credentials, Endpoint, StartedTLS
from shared.mail.greeting import explained
from shared.mail.tls import network_error, ssl_context
from shared.mail.wire import REDACTED, WireTrace
from shared.mail.words import server_words
from shared.oauth import xoauth2

log = logging.getLogger(__name__)

Attachment = Path | tuple[str, str, bytes]  # a file, or (file name, content type, bytes)
_CONTENT_TYPE = re.compile(r"[\w.+-]+/[\w.+-]+")
_ATOM = re.compile(r"[^\s<>,;()\[\]\\\"]+")  # an address as one piece, nothing to quote


class _ServerAnswer(MailpollError):
    def __init__(self, message: str, code: int, words: str) -> None:
        super().__init__(message)
        self.code, self.words = code, words


class DeliveryRefused(_ServerAnswer, PermanentError):
    """The server refused the mail for good (5xx): sender, every recipient or the content."""


class DeliveryDeferred(_ServerAnswer, TransientError):
    """The server asked to try again later (4xx)."""


@dataclass(frozen=True)
class OutgoingMail:
    """What to send: addresses, subject, a text body and attachments."""

    sender: str
    to: Sequence[str]
    subject: str
    body: str
    cc: Sequence[str] = ()
    attachments: Sequence[Attachment] = ()
    reply_to: str | None = None


@dataclass(frozen=True)
class SendResult:
    """The Message-ID sent, and the recipients the server refused while taking the others."""

    message_id: str
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)


def _check_text(name: str, value: str) -> None:
    if any(c in value for c in "\r\n\0"):
        raise ConfigError(name, f"{value!r} contains a line break or NUL character")


def _check_address(name: str, value: str) -> str:
    # One plain address, a display name allowed; header injection refused.
    _check_text(name, value)
    parsed = getaddresses([value])
    addr = parsed[0][1] if len(parsed) == 1 else ""
    local, _, domain = addr.partition("@")
    # Re-check the parser's answer against the text: old email.utils misreads odd input.
    plain = value.strip() == addr or value.rstrip().endswith(f"<{addr}>")
    if not (plain and local and domain and "@" not in domain and _ATOM.fullmatch(addr)):
        raise ConfigError(name, f"{value!r} is not one e-mail address")
    return value.strip()


def _read_attachment(item: Attachment) -> tuple[str, str, bytes]:
    if not isinstance(item, Path):
        return item
    try:
        data = item.read_bytes()
    except OSError as error:
        raise ConfigError("attachments", f"{item}: {error.strerror or error}") from None
    return item.name, mimetypes.guess_type(item.name)[0] or "application/octet-stream", data


def build_message(mail: OutgoingMail) -> EmailMessage:
    """The message to send, refusing header injection; Message-ID and Date are set here."""
    sender = _check_address("sender", mail.sender)
    to = [_check_address("to", value) for value in mail.to]
    cc = [_check_address("cc", value) for value in mail.cc]
    if not to and not cc:
        raise ConfigError("to", "at least one recipient is needed")
    _check_text("subject", mail.subject)
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = sender
    for header, addresses in (("To", to), ("Cc", cc)):
        if addresses:
            message[header] = ", ".join(addresses)
    if mail.reply_to is not None:
        message["Reply-To"] = _check_address("reply_to", mail.reply_to)
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(datetime.now(UTC))
    # The sender's domain, not this host's name, which make_msgid would look up and disclose.
    message["Message-ID"] = make_msgid(domain=getaddresses([sender])[0][1].partition("@")[2])
    message.set_content(mail.body)
    for item in mail.attachments:
        name, kind, data = _read_attachment(item)
        _check_text("attachments", name)
        if not _CONTENT_TYPE.fullmatch(kind):
            raise ConfigError("attachments", f"{name}: {kind!r} is not a content type")
        maintype, subtype = kind.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message


class _Session(smtplib.SMTP):
    """smtplib with its own time-outs, implicit TLS, and lines traced (credentials hidden)."""

    def __init__(self, endpoint: Endpoint, helo: str | None, trace: WireTrace) -> None:
        self.trace, self.in_auth = trace, False
        self.connect_timeout = endpoint.properties.connect_timeout
        tls = endpoint.encryption == "ssl"
        self.implicit_tls = ssl_context(endpoint.properties) if tls else None
        helo = helo or endpoint.properties.smtp_helo
        super().__init__(local_hostname=helo, timeout=endpoint.properties.timeout)
        self._host = endpoint.host  # starttls() checks the certificate against it

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        # The connection and TLS handshake get connect_timeout; every later read `timeout`.
        sock = socket.create_connection((host, port), self.connect_timeout)
        if self.implicit_tls is not None:
            try:
                sock = self.implicit_tls.wrap_socket(sock, server_hostname=host)
            except BaseException:
                sock.close()
                raise
        sock.settimeout(timeout)
        return sock

    def send(self, s: bytes | str) -> None:  # type: ignore[override]
        if isinstance(s, bytes):  # only the message itself is sent as bytes
            self.trace.sent(f"({len(s)} octets of message)")
        elif self.in_auth or s[:5].upper() == "AUTH ":  # secrets until the server ends AUTH
            first, self.in_auth = not self.in_auth, True
            self.trace.sent(" ".join([*s.split()[:2], REDACTED]) if first else REDACTED)
        else:
            self.trace.sent(s.rstrip("\r\n"))
        super().send(s)

    def getreply(self) -> tuple[int, bytes]:
        code, text = super().getreply()
        self.in_auth = self.in_auth and code == 334  # 334: the server asks for more
        for line in text.decode("utf-8", "replace").split("\n"):
            self.trace.received(f"{code} {line}")
        return code, text


def _answer(where: str, doing: str, code: int, words: str) -> MailpollError:
    text = f"{where}: {doing} refused: {code} {words}"
    if code == 421:  # service not available, closing the channel
        return ServerBusyError(text)
    if code >= 500 and doing == "STARTTLS":
        return TLSError(text)
    if code >= 500 and doing == "login":
        return AuthenticationError(text)
    if 400 <= code < 500:
        return DeliveryDeferred(text, code, words)
    return DeliveryRefused(text, code, words)


@contextlib.contextmanager
def _errors(where: str, doing: str) -> Iterator[None]:
    """Translate what smtplib, ssl and socket raise while `doing` something."""
    handshake = doing in {"connect", "STARTTLS"}  # TLS is set up there (or not at all)
    try:
        yield
    except smtplib.SMTPRecipientsRefused as error:
        answers = error.recipients.items()
        words = "; ".join(f"{rcpt}: {code} {server_words(text)}" for rcpt, (code, text) in answers)
        # Retry while any refusal is temporary; only all-permanent refusals are final.
        raise _answer(where, "every recipient", min(c for _, (c, _) in answers), words) from None
    except smtplib.SMTPResponseException as error:
        raise _answer(where, doing, error.smtp_code, server_words(error.smtp_error)) from None
    except smtplib.SMTPServerDisconnected as error:
        cause = error.__context__
        if isinstance(cause, OSError):  # smtplib hides a time-out as a disconnection
            raise network_error(cause, where, handshake=handshake) from None
        raise ConnectError(f"{where}: {doing}: {server_words(str(error))}") from None
    except UnicodeEncodeError:
        raise ConfigError("login", "SMTP AUTH takes ASCII logins and passwords only") from None
    except smtplib.SMTPException as error:  # not supported by the server: no code to go by
        kind = AuthenticationError if doing == "login" else PermanentError
        raise kind(f"{where}: {doing}: {server_words(str(error))}") from None
    except OSError as error:
        raise network_error(error, where, handshake=handshake) from None


def send(
    endpoint: Endpoint,
    credentials: Credentials | None,
    message: EmailMessage,
    *,
    helo: str | None = None,
    debug: bool = False,
    account: str,
    on_starttls: StartedTLS | None = None,
) -> SendResult:
    """Send `message` to its To and Cc recipients (a missing Message-ID is added first).

    Logs in only when credentials are given (auth `none`: a relay).

    `starttls` is refused with `TLSError` before anything else is sent when the server does
    not offer it; `on_starttls` is given the server's certificate once STARTTLS succeeded.
    Some refused recipients come back in the result; all refused is an error.
    """
    where = f"SMTP {endpoint}"
    if message["Message-ID"] is None:
        message["Message-ID"] = make_msgid()
    session = _Session(endpoint, helo, WireTrace(account, "smtp", enabled=debug))
    try:
        # No TLS sniffing after a time-out: a send ends within its `timeout` (Test
        # Configuration names a port that speaks TLS at once).
        with explained("smtp", endpoint, after_timeout=False), _errors(where, "connect"):
            code, words = session.connect(endpoint.host, endpoint.port)
            if code != 220:  # smtplib takes any greeting, even another protocol's
                raise smtplib.SMTPConnectError(code, words)
        if endpoint.encryption == "starttls":
            with _errors(where, "EHLO"):
                session.ehlo_or_helo_if_needed()
            if not session.has_extn("starttls"):
                raise TLSError(f"{where}: the server does not offer STARTTLS")
            with _errors(where, "STARTTLS"):
                session.starttls(context=ssl_context(endpoint.properties))
            if on_starttls is not None and isinstance(session.sock, ssl.SSLSocket):
                on_starttls(session.sock.getpeercert())
            with _errors(where, "EHLO"):
                session.ehlo_or_helo_if_needed()
        if credentials is not None:
            with _errors(where, "login"):
                if credentials.mechanism == "xoauth2":
                    token = xoauth2(credentials.login, credentials.password)
                    session.ehlo_or_helo_if_needed()
                    code, reply = session.docmd("AUTH", "XOAUTH2 " + token)
                    if code != 235:
                        raise smtplib.SMTPAuthenticationError(code, reply)
                else:
                    session.login(credentials.login, credentials.password)
        with _errors(where, "sending"):
            refused = session.send_message(message)
        with contextlib.suppress(smtplib.SMTPException, OSError):
            session.quit()  # the mail is delivered: a failing QUIT changes nothing
    finally:
        session.close()
    answers = {rcpt: (code, server_words(text)) for rcpt, (code, text) in refused.items()}
    log.info("%s: sent %s through %s, refused: %s", account, message["Message-ID"], where, answers)
    return SendResult(str(message["Message-ID"]), answers)
