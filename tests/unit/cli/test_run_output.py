"""The short line `mailpoll run` prints per event, for each kind of event."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from mailpoll.cli.run_output import event_line, json_line
from shared import events
from shared.mail.parse import parse_metadata
from tests.support import corpus

AT = datetime(2026, 12, 1, 10, 2, 3, tzinfo=UTC)


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")  # lines show local time: make it known
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def received(subject: str, size: int, **where: Any) -> dict[str, Any]:
    where = where or {"protocol": "imap", "folder": "INBOX", "uidvalidity": 1, "uid": 7}
    return events.build_received_event(
        id="x", account="support", metadata=parse_metadata(corpus.plain(subject)), size=size,
        sha256="0" * 64, raw_path="/tmp/x.eml", time=AT, **where,
    )  # fmt: skip


def outbound(outcome: Any, to: list[str], **extra: Any) -> dict[str, Any]:
    return events.build_outbound_event(
        outcome=outcome, account="relay", message_id="<m@x>", sender="me@example.com", to=to,
        cc=["cc@example.com"], subject="Report", time=AT, **extra,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("size", "shown"),
    [(230, "230 B"), (18_200, "18.2 kB"), (999_960, "1.0 MB"), (12_345_678, "12.3 MB")],
)
def test_a_received_message_is_time_account_folder_subject_and_size(size: int, shown: str) -> None:
    event = received("Invoice 42", size)
    line = f'10:02:03 support INBOX "Invoice 42" {shown}'
    assert event_line(events.routing_key(event), event) == line


def test_a_pop3_message_is_in_the_inbox_and_a_long_or_odd_subject_stays_on_one_line() -> None:
    event = received("x" * 100, 10, protocol="pop3", uidl="u1")
    assert event_line("", event) == f'10:02:03 support INBOX "{"x" * 59}…" 10 B'
    event["data"]["subject"] = 'Grüße "quoted"\r\nBcc: evil'
    escaped = '"Grüße \\"quoted\\"\\r\\nBcc: evil"'
    assert event_line("", event) == f"10:02:03 support INBOX {escaped} 10 B"
    event["data"]["subject"] = None
    assert event_line("", event) == "10:02:03 support INBOX (no subject) 10 B"


def test_sent_and_failed_mail_have_short_lines_of_their_own() -> None:
    sent = outbound("sent", ["bob@example.com", "carol@example.com"])
    assert event_line("", sent) == '10:02:03 relay sent "Report" to bob@example.com and 2 more'
    failed = outbound("failed", ["bob@example.com"], error="550 no such user", permanent=True)
    assert event_line("", failed) == (
        '10:02:03 relay FAILED "Report" to bob@example.com and 1 more: 550 no such user'
    )


def test_json_is_the_whole_event_with_its_routing_key() -> None:
    event = received("Invoice 42", 230)
    assert json.loads(json_line("message.received.support", event)) == {
        "routing_key": "message.received.support",
        **json.loads(json.dumps(event)),
    }
