"""TLS contexts: verification on by default, a CA file and the opt-outs honoured."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from shared.errors import ConnectError, ServerTimeoutError, TLSError
from shared.mail.tls import network_error, ssl_context
from shared.properties import Properties
from tests.support.smtp_server import self_signed


def props(text: str = "") -> Properties:
    return Properties.of(text, "inbound")


def test_the_default_context_verifies_the_certificate_and_the_host_name() -> None:
    context = ssl_context(props())
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


def test_tls_min_version_raises_the_floor() -> None:
    assert ssl_context(props("tls_min_version=TLSv1.3")).minimum_version == ssl.TLSVersion.TLSv1_3


def test_tls_check_hostname_false_keeps_certificate_verification() -> None:
    context = ssl_context(props("tls_check_hostname=false"))
    assert context.check_hostname is False
    assert context.verify_mode == ssl.CERT_REQUIRED


def test_tls_verify_false_turns_both_checks_off() -> None:
    context = ssl_context(props("tls_verify=false"))
    assert context.check_hostname is False
    assert context.verify_mode == ssl.CERT_NONE


def test_a_ca_file_replaces_the_system_authorities(tmp_path: Path) -> None:
    ca_file, _ = self_signed(tmp_path, "private-ca.example")
    context = ssl_context(props(f"tls_ca_file={ca_file}"))
    assert context.cert_store_stats()["x509_ca"] == 1


@pytest.mark.parametrize(
    ("error", "handshake", "expected"),
    [
        (TimeoutError("timed out"), False, ServerTimeoutError),
        (TimeoutError("timed out"), True, ServerTimeoutError),
        (ssl.SSLCertVerificationError("bad cert"), False, TLSError),
        (ssl.SSLError("handshake failure"), True, TLSError),
        (ssl.SSLEOFError("eof"), False, ConnectError),
        (ConnectionRefusedError(111, "refused"), False, ConnectError),
        (ConnectionResetError(104, "reset"), False, ConnectError),
    ],
)
def test_network_errors_map_to_the_error_tree(
    error: OSError, handshake: bool, expected: type[Exception]
) -> None:
    translated = network_error(error, "imap.example.org:993", handshake=handshake)
    assert type(translated) is expected
    assert "imap.example.org:993" in str(translated)
