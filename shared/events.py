"""The "message received" CloudEvent: stable ids and the body docs/events.md documents."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from shared.mail.parse import MessageMetadata

EXCHANGE = "mailpoll.events"
EVENT_TYPE = "mailpoll.message.received"
CONTENT_TYPE = "application/cloudevents+json"
TAIL_BINDING = "message.received.#"
#: Fixed forever: changing it would give every message a new id and defeat consumers' dedup.
EVENT_NAMESPACE = uuid.UUID("6f1c2b8e-5d0a-5b7e-9c53-4b1d0e6a7f21")


def event_id(account: str | int, folder: str, uidvalidity: int | None, uid: int | str) -> str:
    """The message's event id: the same message gives the same id on every poll and worker.

    Built from where the message lives (account, folder, UIDVALIDITY and UID; for POP3 pass
    folder "", uidvalidity None and the UIDL), never from its Message-ID, which senders
    reuse and which collides across accounts.
    """
    name = json.dumps([account, folder, uidvalidity, uid], ensure_ascii=False)
    return str(uuid.uuid5(EVENT_NAMESPACE, name))


def _utc(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_received_event(
    *,
    id: str,
    account: str,
    protocol: Literal["imap", "pop3"],
    metadata: MessageMetadata,
    size: int,
    sha256: str,
    raw_path: str,
    folder: str | None = None,
    uidvalidity: int | None = None,
    uid: int | None = None,
    uidl: str | None = None,
    time: datetime | None = None,
) -> dict[str, Any]:
    """The event body as docs/events.md shows it; POP3 gets `uidl` and no folder."""
    event: dict[str, Any] = {
        "specversion": "1.0",
        "type": EVENT_TYPE,
        "source": f"mailpoll/accounts/{account}",
        "id": id,
        "time": _utc(time or datetime.now(UTC)),
    }
    data: dict[str, Any] = {"account": account, "protocol": protocol}
    if protocol == "imap":
        if folder is None or uidvalidity is None or uid is None:
            raise ValueError("an IMAP event needs folder, uidvalidity and uid")
        event["subject"] = folder
        data.update(folder=folder, uidvalidity=uidvalidity, uid=uid)
    elif protocol == "pop3":
        if uidl is None:
            raise ValueError("a POP3 event needs uidl")
        data["uidl"] = uidl
    else:
        raise ValueError(f"unknown protocol {protocol!r}")
    event["datacontenttype"] = "application/json"
    data.update(metadata.as_event_data())
    data.update(
        size=size,
        sha256=sha256,
        attachments=[dict(a) for a in metadata.attachments],
        raw_path=raw_path,
        parse_error=metadata.parse_error,
    )
    event["data"] = data
    return event


def routing_key(event: Mapping[str, Any]) -> str:
    """`message.<received|sent|failed>.<account name>`: consumers bind `message.received.#`."""
    kind = str(event["type"]).removeprefix("mailpoll.")
    return f"{kind}.{event['data']['account']}"


def build_outbound_event(
    *,
    outcome: Literal["sent", "failed"],
    account: str,
    message_id: str,
    sender: str,
    to: list[str],
    cc: list[str],
    subject: str,
    refused: Mapping[str, tuple[int, str]] | None = None,
    error: str | None = None,
    permanent: bool | None = None,
    time: datetime | None = None,
) -> dict[str, Any]:
    """`mailpoll.message.sent` or `mailpoll.message.failed`, on the same exchange as received.

    The id is stable per Message-ID and outcome, so a send retried after a crash repeats it.
    """
    data: dict[str, Any] = {
        "account": account, "message_id": message_id, "from": sender, "to": to, "cc": cc,
        "subject": subject,
    }  # fmt: skip
    if outcome == "sent":
        data["refused"] = {address: list(answer) for address, answer in (refused or {}).items()}
    else:
        data.update(error=error, permanent=permanent)
    return {
        "specversion": "1.0",
        "type": f"mailpoll.message.{outcome}",
        "source": f"mailpoll/accounts/{account}",
        "id": str(uuid.uuid5(EVENT_NAMESPACE, json.dumps([outcome, account, message_id]))),
        "time": _utc(time or datetime.now(UTC)),
        "subject": subject,
        "datacontenttype": "application/json",
        "data": data,
    }
