"""TLS contexts from account properties, and what socket and TLS failures mean to mailpoll."""

from __future__ import annotations

import ssl

from shared.errors import ConfigError, ConnectError, MailpollError, ServerTimeoutError, TLSError
from shared.properties import Properties

_VERSIONS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}


def ssl_context(properties: Properties) -> ssl.SSLContext:
    """A client context that verifies the certificate and host name unless the account opts out.

    `tls_ca_file` replaces the system's trusted authorities (a private CA or a test server).
    """
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=properties.tls_ca_file)
    if properties.tls_min_version not in _VERSIONS:
        raise ConfigError("properties", f"tls_min_version={properties.tls_min_version!r}")
    context.minimum_version = _VERSIONS[properties.tls_min_version]
    if not properties.tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif not properties.tls_check_hostname:
        context.check_hostname = False
    return context


def network_error(error: OSError, where: str, *, handshake: bool = False) -> MailpollError:
    """The mailpoll error for a socket or TLS failure talking to `where` (host:port).

    `handshake` says the failure came while TLS was being set up: any TLS error there is a
    `TLSError` (the configuration or the server's certificate must change), while later it is
    a dropped connection like any other.
    """
    if isinstance(error, TimeoutError):
        return ServerTimeoutError(f"{where}: no answer within the time-out ({error})")
    if isinstance(error, ssl.SSLCertVerificationError):
        reason = getattr(error, "verify_message", None) or str(error)
        return TLSError(f"{where}: certificate not accepted: {reason}")
    if isinstance(error, ssl.SSLError) and handshake:
        reason = getattr(error, "reason", None) or str(error)
        return TLSError(f"{where}: TLS handshake failed: {reason}")
    if isinstance(error, ConnectionRefusedError):
        return ConnectError(f"{where}: connection refused")
    return ConnectError(f"{where}: {error.strerror or error}")
