"""What a server's port speaks, from its first words: the error that names a wrong port.

A session that fails while the server greets it is explained here: a port whose server says
nothing but answers a TLS handshake speaks TLS at once (implicit TLS: encryption ssl), and a
greeting of another protocol names that protocol. The clients call `explained` around their
connect; Test Configuration reads the greeting itself with `check_greeting`.
"""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
from collections.abc import Iterator

from shared.errors import (
    ConnectError,
    MailpollError,
    PermanentError,
    ServerTimeoutError,
    TLSError,
)
from shared.mail.client import Endpoint
from shared.mail.words import server_words

NAMES = {"imap": "IMAP", "pop3": "POP3", "smtp": "SMTP"}
PORTS = {
    "imap": "IMAP: 143 for none/starttls, 993 for ssl",
    "pop3": "POP3: 110 for none/starttls, 995 for ssl",
    "smtp": "SMTP: 25 or 587 for none/starttls, 465 for ssl",
}
INBOUND = {"imap", "pop3"}
SNIFF_SECONDS = 2.0  # servers greet at once; a silent port this long may be waiting for TLS
GREETING_CHARS = 60  # of the other server's greeting, in the message
_GREETINGS = (
    ("imap", re.compile(rb"\* (OK|PREAUTH|BYE)\b", re.IGNORECASE)),
    ("pop3", re.compile(rb"[+-](OK|ERR)\b", re.IGNORECASE)),
    ("smtp", re.compile(rb"[2-5][0-9][0-9]([ -]|\r?$)")),
)


class WrongPortError(PermanentError):
    """The port speaks another protocol, or TLS at once: port, protocol or encryption is wrong.

    `hint` says which setting to change, in words an administrator can act on.
    """

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


def protocol_of(greeting: bytes) -> str | None:
    """imap, pop3 or smtp, from the first line a server sends; None when it is none of them."""
    return next((name for name, shape in _GREETINGS if shape.match(greeting)), None)


def other_protocol(protocol: str, endpoint: Endpoint, greeting: bytes) -> WrongPortError | None:
    """The error for a greeting that is not `protocol`'s; None when it is."""
    speaks = protocol_of(greeting)
    if speaks == protocol:
        return None
    name, said = NAMES[protocol], server_words(greeting, GREETING_CHARS)
    where = f"{name} {endpoint}"
    if speaks is None:
        message = f'{where}: the server on this port does not speak {name}: it greets "{said}"'
        return WrongPortError(message, f"check the port ({PORTS[protocol]})")
    other = NAMES[speaks]
    message = f'{where}: the server on this port speaks {other}, not {name}: it greets "{said}"'
    article = "an" if other[0] in "IS" else "a"  # an IMAP, an SMTP, a POP3
    instead = f"use protocol {speaks} with it, or " if {protocol, speaks} <= INBOUND else "use "
    hint = f"port {endpoint.port} is {article} {other} port: {instead}the {name} port"
    return WrongPortError(message, f"{hint} ({PORTS[protocol]})")


def implicit_tls(protocol: str, endpoint: Endpoint) -> WrongPortError | None:
    """The error for a port that greets nobody because it speaks TLS at once; None otherwise."""
    if endpoint.encryption == "ssl" or not _speaks_tls(endpoint):
        return None
    message = (
        f"{NAMES[protocol]} {endpoint}: the server sent no greeting: this port speaks TLS at "
        f"once (implicit TLS), so encryption {endpoint.encryption} cannot be used on it"
    )
    hint = (
        f"use encryption ssl for port {endpoint.port}, or the plain port for "
        f"{endpoint.encryption} ({PORTS[protocol]})"
    )
    return WrongPortError(message, hint)


@contextlib.contextmanager
def explained(protocol: str, endpoint: Endpoint, *, after_timeout: bool = True) -> Iterator[None]:
    """Around a client's connect: a failure while the server greets becomes a `WrongPortError`
    when a second connection finds another protocol's greeting or, after a time-out (unless
    `after_timeout` is false), a port that speaks TLS at once."""
    try:
        yield
    except (WrongPortError, TLSError):
        raise
    except ServerTimeoutError as error:
        raise (implicit_tls(protocol, endpoint) if after_timeout else None) or error from None
    except MailpollError as error:
        raise _other_greeting(protocol, endpoint) or error from None


def _other_greeting(protocol: str, endpoint: Endpoint) -> WrongPortError | None:
    try:
        with _connection(endpoint, SNIFF_SECONDS) as sock:
            line = _first_line(sock, SNIFF_SECONDS)
    except OSError:
        return None
    return other_protocol(protocol, endpoint, line) if line else None


def check_greeting(protocol: str, endpoint: Endpoint, sock: socket.socket) -> bytes:
    """The server's first line on a plain connection, checked: it must be `protocol`'s.

    A port still silent after `SNIFF_SECONDS` is tried with TLS on a second connection, so
    implicit TLS is named at once rather than after the whole time-out.
    """
    timeout = endpoint.properties.timeout
    first_wait = min(timeout, SNIFF_SECONDS)
    line = _first_line(sock, first_wait)
    if line is None:
        wrong = implicit_tls(protocol, endpoint)
        if wrong is not None:
            raise wrong
        line = _first_line(sock, max(timeout - first_wait, 0.001))
    where = f"{NAMES[protocol]} {endpoint}"
    if line is None:
        raise ServerTimeoutError(f"{where}: no greeting within {timeout:g} s")
    if not line:
        raise ConnectError(f"{where}: the server closed the connection without a greeting")
    wrong = other_protocol(protocol, endpoint, line)
    if wrong is not None:
        raise wrong
    return line


def _first_line(sock: socket.socket, wait: float) -> bytes | None:
    """Up to the first line break (at most 512 bytes); b"" if the server hung up, None if it
    said nothing within `wait` seconds."""
    sock.settimeout(wait)
    data = b""
    try:
        while b"\n" not in data and len(data) < 512:
            chunk = sock.recv(512 - len(data))
            if not chunk:
                break
            data += chunk
    except TimeoutError:
        if not data:
            return None
    return data.split(b"\n", 1)[0]


def _speaks_tls(endpoint: Endpoint) -> bool:
    """Whether the port completes a TLS handshake (or answers it with a TLS alert)."""
    try:
        with _connection(endpoint, SNIFF_SECONDS, tls=True):
            return True
    except ssl.SSLError as error:
        return "ALERT" in str(getattr(error, "reason", "") or "")
    except OSError:
        return False


@contextlib.contextmanager
def _connection(
    endpoint: Endpoint, wait: float, *, tls: bool | None = None
) -> Iterator[socket.socket]:
    """A connection for looking only: TLS (unverified: nothing is sent) when `tls`, else as
    the endpoint's encryption says."""
    connect_wait = min(endpoint.properties.connect_timeout, wait)
    sock = socket.create_connection((endpoint.host, endpoint.port), connect_wait)
    try:
        if tls or (tls is None and endpoint.encryption == "ssl"):
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            sock = context.wrap_socket(sock, server_hostname=endpoint.host)
        yield sock
    finally:
        sock.close()
