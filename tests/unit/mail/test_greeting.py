"""Naming what a port speaks from its greeting, and the hint that says what to change."""

from __future__ import annotations

import pytest

from shared.mail.client import Endpoint
from shared.mail.greeting import other_protocol, protocol_of
from shared.properties import Properties


def at(port: int, kind: str = "inbound") -> Endpoint:
    return Endpoint("mail.example", port, "none", Properties.of("", kind))


@pytest.mark.parametrize(
    ("greeting", "protocol"),
    [
        (b"* OK [CAPABILITY IMAP4rev1] Dovecot ready.", "imap"),
        (b"* PREAUTH logged in already", "imap"),
        (b"* BYE too many connections", "imap"),
        (b"+OK Dovecot ready.", "pop3"),
        (b"-ERR [SYS/TEMP] try later", "pop3"),
        (b"220 mx.example ESMTP Postfix", "smtp"),
        (b"220-mx.example first line of several", "smtp"),
        (b"554 no service", "smtp"),
        (b"SSH-2.0-OpenSSH_9.2", None),
        (b"HTTP/1.1 400 Bad Request", None),
        (b"\x16\x03\x01", None),
    ],
)
def test_the_protocol_is_known_by_its_greeting(greeting: bytes, protocol: str | None) -> None:
    assert protocol_of(greeting) == protocol


def test_the_own_protocols_greeting_is_no_error() -> None:
    assert other_protocol("imap", at(143), b"* OK ready") is None


def test_another_inbound_protocol_suggests_switching_protocol_or_port() -> None:
    error = other_protocol("imap", at(110), b"+OK Dovecot ready.")
    assert error is not None
    assert str(error) == (
        "IMAP mail.example:110 (none): the server on this port speaks POP3, not IMAP: "
        'it greets "+OK Dovecot ready."'
    )
    assert error.hint == (
        "port 110 is a POP3 port: use protocol pop3 with it, or the IMAP port "
        "(IMAP: 143 for none/starttls, 993 for ssl)"
    )


def test_an_outbound_account_on_a_mailbox_port_only_suggests_the_smtp_port() -> None:
    error = other_protocol("smtp", at(143, kind="outbound"), b"* OK ready")
    assert error is not None
    assert error.hint == (
        "port 143 is an IMAP port: use the SMTP port (SMTP: 25 or 587 for none/starttls, "
        "465 for ssl)"
    )


def test_an_unknown_greeting_is_shown_sanitised_and_short() -> None:
    error = other_protocol("pop3", at(22), b"SSH-2.0-OpenSSH\x1b[2J " + b"x" * 200)
    assert error is not None
    assert 'does not speak POP3: it greets "SSH-2.0-OpenSSH [2J xxx' in str(error)
    assert str(error).endswith('…"')
    assert "\x1b" not in str(error)
    assert error.hint == "check the port (POP3: 110 for none/starttls, 995 for ssl)"
