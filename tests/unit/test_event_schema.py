"""The published JSON Schema: itself valid, the documented example passes, mistakes do not."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from shared import events
from shared.mail.metadata import MessageMetadata
from tests.support.event_schema import check_event

DOCS = Path(__file__).parents[2] / "docs" / "events.md"


def documented_example() -> dict[str, Any]:
    match = re.search(r"## The received event\n\n```json\n(.*?)\n```", DOCS.read_text(), re.S)
    assert match is not None, "docs/events.md lost its example"
    example: dict[str, Any] = json.loads(match.group(1))
    return example


def built(protocol: str) -> dict[str, Any]:
    where: dict[str, Any] = (
        {"folder": "INBOX", "uidvalidity": 7, "uid": 3} if protocol == "imap" else {"uidl": "u1"}
    )
    return events.build_received_event(
        id=events.event_id(1, "INBOX", 7, 3), account="support", protocol=protocol,  # type: ignore[arg-type]
        metadata=MessageMetadata(subject="Hi", from_=["a@example.com"]), size=10,
        sha256="0" * 64, raw_path="default/in/20261123/INBOX/x.eml", **where,
    )  # fmt: skip


def test_the_documented_example_and_built_events_pass() -> None:
    check_event(documented_example())
    check_event(built("imap"))
    check_event(built("pop3"))


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("data", "sha256"), "not-a-hash"),
        (("data", "uid"), "42"),
        (("data", "raw_path"), "/etc/passwd"),
        (("data", "protocol"), "smtp"),
        (("specversion",), "0.3"),
    ],
)
def test_a_wrong_field_breaks_the_schema(path: tuple[str, ...], value: Any) -> None:
    event = documented_example()
    target = event
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(AssertionError, match="breaks the schema"):
        check_event(event)


def test_an_imap_event_with_a_uidl_breaks_the_schema() -> None:
    event = documented_example()
    event["data"]["uidl"] = "u1"
    with pytest.raises(AssertionError):
        check_event(event)
