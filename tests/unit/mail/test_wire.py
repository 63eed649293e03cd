"""The wire trace: credentials redacted in every form, nothing logged with debug off."""

from __future__ import annotations

import logging

import pytest

from shared.mail.wire import REDACTED, WireTrace, redact_imap, redact_pop3


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("b'ABCD1 LOGIN alice \"s3cret\"'", f"b'ABCD1 LOGIN {REDACTED}'"),
        ("ABCD1 login alice s3cret", f"ABCD1 login {REDACTED}"),
        ("ABCD2 AUTHENTICATE PLAIN AGFsaWNlAHMzY3JldA==", f"ABCD2 AUTHENTICATE {REDACTED}"),
        ("b'A3 LOGIN {5}\\r\\nalice \"pa ss\"'", f"b'A3 LOGIN {REDACTED}'"),
        ("ABCD3 UID SEARCH UID 5:*", "ABCD3 UID SEARCH UID 5:*"),
        ('ABCD4 SELECT "INBOX"', 'ABCD4 SELECT "INBOX"'),
    ],
)
def test_imap_login_and_authenticate_arguments_are_redacted(line: str, expected: str) -> None:
    assert redact_imap(line) == expected
    assert "s3cret" not in redact_imap(line)


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("PASS s3cret", f"PASS {REDACTED}"),
        ("pass s3cret with spaces", f"pass {REDACTED}"),
        ("USER alice", f"USER {REDACTED}"),
        ("APOP alice 0123456789abcdef", f"APOP {REDACTED}"),
        ("AUTH PLAIN AGFsaWNlAHMzY3JldA==", f"AUTH {REDACTED}"),
        ("RETR 1", "RETR 1"),
        ("UIDL", "UIDL"),
        ("PASSWORD_NOT_A_COMMAND x", "PASSWORD_NOT_A_COMMAND x"),
    ],
)
def test_pop3_credential_commands_are_redacted(command: str, expected: str) -> None:
    assert redact_pop3(command) == expected


def wire_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "mailpoll.wire"]


def test_a_trace_names_the_account_and_redacts_what_the_client_sends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="mailpoll.wire")
    trace = WireTrace("sales", "pop3", enabled=True)
    trace.sent("PASS s3cret")
    trace.received("+OK logged in")
    assert wire_lines(caplog) == [f"sales pop3 C: PASS {REDACTED}", "sales pop3 S: +OK logged in"]


def test_imaplib_messages_are_split_by_direction_and_redacted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="mailpoll.wire")
    trace = WireTrace("sales", "imap", enabled=True)
    trace.imaplib_message("> b'AB1 LOGIN bob \"s3cret\"'")
    trace.imaplib_message("< b'AB1 OK Logged in'")
    trace.imaplib_message("write literal size 6")
    assert wire_lines(caplog) == [
        f"sales imap C: b'AB1 LOGIN {REDACTED}'",
        "sales imap S: b'AB1 OK Logged in'",
        "sales imap write literal size 6",
    ]


def test_nothing_is_logged_when_debug_is_off(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="mailpoll.wire")
    trace = WireTrace("sales", "imap", enabled=False)
    trace.sent("A1 NOOP")
    trace.received("A1 OK")
    trace.imaplib_message("> b'A1 NOOP'")
    assert wire_lines(caplog) == []
