"""Test Configuration: try an account's settings step by step, saving nothing.

Resolve the host, connect, check TLS, log in, then select the folder (inbound) or send a test
mail (outbound). The first failing step stops the test with the server's own words and a hint
at the usual cause.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.errors import (
    AuthenticationError,
    ConfigError,
    ConnectError,
    FolderError,
    MailpollError,
    ServerTimeoutError,
)
from shared.mail.client import Endpoint
from shared.mail.greeting import PORTS, WrongPortError, check_greeting
from shared.mail.tls import network_error, ssl_context
from shared.mail.words import server_words


@dataclass(frozen=True)
class Step:
    name: str
    ok: bool
    seconds: float
    detail: str
    hint: str | None = None


class StepFailed(Exception):
    """Stops the test at a step; carries the step's report."""

    def __init__(self, step: Step) -> None:
        super().__init__(step.detail)
        self.step = step


class Probe:
    """Runs steps in order; `steps` holds what has been reported so far."""

    def __init__(self, endpoint: Endpoint, protocol: str) -> None:
        self.endpoint = endpoint
        self.protocol = protocol
        self.steps: list[Step] = []
        self._where = f"{endpoint.host}:{endpoint.port}"
        self._socket = socket.socket()
        self._socket.close()

    def run(
        self, name: str, action: Callable[[], str], hint: Callable[[], str | None] = lambda: None
    ) -> None:
        """Report `action` as step `name`; a failure gets the caller's `hint()` if it has one,
        else the usual hint for the error."""
        started = time.monotonic()
        try:
            detail = action()
        except (MailpollError, OSError) as error:
            advice = hint() or self.hint(error)
            step = Step(name, False, time.monotonic() - started, str(error), advice)
            self.steps.append(step)
            raise StepFailed(step) from None
        self.steps.append(Step(name, True, time.monotonic() - started, detail))

    def resolve(self) -> str:
        try:
            found = socket.getaddrinfo(
                self.endpoint.host, self.endpoint.port, type=socket.SOCK_STREAM
            )
        except socket.gaierror as error:
            raise ConnectError(f"{self.endpoint.host}: cannot resolve: {error.strerror}") from None
        addresses = sorted({str(info[4][0]) for info in found})
        return f"{self.endpoint.host} -> {', '.join(addresses)}"

    def connect(self) -> str:
        """A TCP connection and, without implicit TLS, the server's greeting: it must be the
        protocol's, and come in clear. Implicit TLS is checked by `handshake` on the socket."""
        timeout = self.endpoint.properties.connect_timeout
        try:
            self._socket = socket.create_connection(
                (self.endpoint.host, self.endpoint.port), timeout
            )
        except OSError as error:
            raise network_error(error, self._where) from None
        if self.endpoint.encryption != "ssl":
            with self._socket:
                try:
                    check_greeting(self.protocol, self.endpoint, self._socket)
                except OSError as error:
                    raise network_error(error, self._where) from None
        return f"{self._where} ({self.endpoint.encryption})"

    def handshake(self) -> str:
        """The TLS handshake of encryption ssl: the certificate's subject and expiry."""
        context = ssl_context(self.endpoint.properties)
        try:
            with context.wrap_socket(self._socket, server_hostname=self.endpoint.host) as tls:
                return describe_certificate(tls.getpeercert(), tls.version())
        except OSError as error:
            raise network_error(error, self._where, handshake=True) from None
        finally:
            self._socket.close()

    def hint(self, error: BaseException) -> str | None:
        """The usual cause of a failure, in words an administrator can act on."""
        text = str(error).lower()
        ports = PORTS[self.protocol]
        port = self.endpoint.port
        if isinstance(error, WrongPortError):
            return error.hint
        if isinstance(error, AuthenticationError):
            return HINTS["login"]
        if isinstance(error, ConfigError) and error.field == "sender":
            return HINTS["sender"]
        if isinstance(error, FolderError):
            return HINTS["folder"]
        if "cannot resolve" in text:
            return HINTS["resolve"]
        if "refused" in text and isinstance(error, ConnectError):
            return HINTS["refused"].format(port=port, ports=ports)
        plain_port = self.endpoint.encryption == "ssl" and isinstance(error, ServerTimeoutError)
        if plain_port or "wrong_version_number" in text or "wrong version number" in text:
            return HINTS["not_tls"].format(port=port, ports=ports)
        if "hostname mismatch" in text or "doesn't match" in text or "not valid for" in text:
            return HINTS["name"]
        if "certificate" in text:
            return HINTS["untrusted"]
        if "not offer starttls" in text or "not offer stls" in text:
            return HINTS["no_starttls"].format(port=port)
        if isinstance(error, ServerTimeoutError | TimeoutError):
            return HINTS["timeout"]
        return None


HINTS = {
    "resolve": "check the host name (a typo, or a name only known inside another network)",
    "refused": "nothing listens on port {port}: check the port and the encryption ({ports})",
    "not_tls": (
        "port {port} does not speak TLS at once: use encryption starttls or none, "
        "or the TLS port ({ports})"
    ),
    "name": "the certificate names another host: connect by a name on the certificate",
    "untrusted": (
        "the certificate is not trusted: set the property tls_ca_file=<CA file> "
        "(or tls_verify=false, for test servers only)"
    ),
    "no_starttls": (
        "the server offers no STARTTLS on port {port}: use encryption ssl on the TLS port, "
        "or check the port"
    ),
    "sender": (
        "the test mail comes from the system email address, else the login: "
        "set one with `mailpoll settings set system_email_address ADDRESS`"
    ),
    "login": "check the login and password (auth local) or the keystore aliases (external)",
    "folder": "the folder does not exist (names are case-sensitive; see the folders listed)",
    "timeout": "the server did not answer in time: a firewall dropping packets, or a wrong port",
}


def folder_listing(folders: list[str], most: int = 30) -> str:
    """The server's folders for a message: sorted, names made safe, at most `most` of them."""
    ordered = sorted(folders, key=str.casefold)
    shown = ", ".join(server_words(name, 80) for name in ordered[:most])
    return shown + (f", ... ({len(folders) - most} more)" if len(folders) > most else "")


def closest_folder(name: str, folders: list[str]) -> str | None:
    """The one folder that `name` obviously means: the same name in another case, or the same
    name under INBOX (`INBOX.Archive` for `Archive`, as Cyrus names it), or out from under it."""
    wanted = _bare(name).casefold()
    found = [folder for folder in folders if _bare(folder).casefold() == wanted]
    return found[0] if len(found) == 1 and found[0] != name else None


def _bare(folder: str) -> str:
    """The name without an `INBOX` prefix and its delimiter (any one non-alphanumeric)."""
    head, delimiter, rest = folder[:5], folder[5:6], folder[6:]
    if head.upper() == "INBOX" and delimiter and not delimiter.isalnum() and rest:
        return rest
    return folder


def describe_certificate(certificate: dict[str, Any] | None, version: str | None = None) -> str:
    """Subject, issuer and expiry of a certificate, as a person reads them."""
    if not certificate:
        return f"{version or 'TLS'} (certificate not verified, so not shown)"
    subject = _name(certificate.get("subject", ()))
    issuer = _name(certificate.get("issuer", ()))
    expires = certificate.get("notAfter")
    left = ""
    if expires:
        moment = datetime.fromtimestamp(ssl.cert_time_to_seconds(expires), UTC)
        left = f", expires {moment:%Y-%m-%d} ({(moment - datetime.now(UTC)).days} days)"
    return f"{version or 'TLS'}: {subject}, issued by {issuer}{left}"


def _name(parts: Any) -> str:
    """A certificate's name; its values are the server's words (made safe like them)."""
    named = (f"{key}={server_words(str(value), 80)}" for rdn in parts for key, value in rdn)
    return ", ".join(named) or "-"
