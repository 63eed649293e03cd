"""A throwaway SMTP server (aiosmtpd) on loopback: plain, STARTTLS, implicit TLS, AUTH."""

from __future__ import annotations

import base64
import contextlib
import datetime
import ipaddress
import shutil
import socket
import ssl
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.ports import free_port


def self_signed(directory: Path, name: str = "localhost") -> tuple[Path, Path]:
    """(certificate, key) files of a self-signed EC P-256 certificate for `name`.

    `localhost` also names 127.0.0.1, as Dovecot's test certificate does; any other name
    gives a certificate that loopback clients must refuse.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    names: list[x509.GeneralName] = [x509.DNSName(name)]
    if name == "localhost":
        names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / f"{name}.pem", directory / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@dataclass(frozen=True)
class Received:
    """One message as the server took it: envelope, exact bytes and how the session went."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    helo: str | None
    tls: bool
    login: str | None


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(
        self, smtp: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        answer = self.server.rcpt_answers.get(address)
        if answer is not None:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def auth_XOAUTH2(self, smtp: SMTP, args: list[str]) -> AuthResult:
        """SASL XOAUTH2 with the initial response: `user=U^Aauth=Bearer T^A^A`, base64."""
        try:
            fields = base64.b64decode(args[1]).decode().split("\x01")
            user = fields[0].removeprefix("user=")
            token = fields[1].removeprefix("auth=Bearer ")
        except (IndexError, ValueError):
            return AuthResult(success=False, handled=False)
        self.server.auth_attempts.append(("XOAUTH2", user))
        ok = self.server.bearer_tokens.get(user) == token
        return AuthResult(success=ok, handled=False, auth_data=user if ok else None)

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        login = session.auth_data if isinstance(session.auth_data, str) else None
        # session.ssl tells of STARTTLS; the transport tells of TLS from the first byte.
        transport = smtp.transport
        implicit = transport is not None and transport.get_extra_info("ssl_object") is not None
        self.server.received.append(
            Received(
                envelope.mail_from or "",
                list(envelope.rcpt_tos),
                envelope.original_content or b"",
                session.host_name,
                session.ssl is not None or implicit,
                login,
            )
        )
        return "250 Message accepted for delivery"


class SmtpServer:
    """aiosmtpd on a free 127.0.0.1 port, recording what it receives.

    starttls: offer STARTTLS (`require_starttls` refuses mail before it); implicit_tls: TLS
    from the first byte; auth: (login, password) that AUTH PLAIN/LOGIN accepts, also without
    TLS; cert_name: the name the certificate gives (clients trust `ca_file`).
    `rcpt_answers[address] = "550 ..."` makes the server refuse that recipient;
    `refuse_auth = True` makes every AUTH fail.
    """

    host = "127.0.0.1"

    def __init__(
        self,
        *,
        starttls: bool = False,
        require_starttls: bool = False,
        implicit_tls: bool = False,
        auth: tuple[str, str] | None = None,
        auth_exclude: tuple[str, ...] = (),
        cert_name: str = "localhost",
    ) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="mailpoll-smtp-"))
        self.port = free_port()
        self.received: list[Received] = []
        self.auth_attempts: list[tuple[str, str]] = []  # (mechanism, login)
        self.rcpt_answers: dict[str, str] = {}
        self.refuse_auth = False
        self.bearer_tokens: dict[str, str] = {}  # user -> the access token XOAUTH2 accepts
        self.auth = auth
        cert_file, key_file = self_signed(self.root, cert_name)
        self.ca_file = cert_file
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        options: dict[str, Any] = {}
        if starttls:
            options.update(tls_context=context, require_starttls=require_starttls)
        if auth is not None:
            options.update(
                authenticator=self._authenticate,
                auth_require_tls=False,
                auth_exclude_mechanism=list(auth_exclude),
            )
        self._controller = Controller(
            _Handler(self),
            hostname=self.host,
            port=self.port,
            ssl_context=context if implicit_tls else None,
            server_hostname="smtp.test",
            **options,
        )

    def _authenticate(
        self, smtp: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = data.login.decode(), data.password.decode()
        self.auth_attempts.append((mechanism, login))
        ok = not self.refuse_auth and (login, password) == self.auth
        return AuthResult(success=ok, handled=False, auth_data=login if ok else None)

    def start(self) -> SmtpServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop the server (if running) and delete its certificate directory."""
        with contextlib.suppress(AssertionError):  # not running
            self._controller.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """The port of a server that accepts connections and never says a word."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:  # the listener was shut down: the test is over
                return
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        listener.close()
        thread.join(timeout=5)
        for conn in held:
            conn.close()
