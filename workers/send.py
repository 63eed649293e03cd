"""Sending mail through the single enabled outbound account, and saying how it went.

Plain functions (no Dramatiq): the send actor, `mailpoll send`, `mailpoll feedback` and the
error reports all come through `send_mail`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from shared import events
from shared.accounts.outbound import outbound_account
from shared.clock import Clock
from shared.db.database import Database
from shared.errors import ConfigError, MailpollError, PermanentError
from shared.mail import smtp
from shared.settings import Settings
from shared.system_settings import SystemSettings
from workers.account import OutboundAccount
from workers.credentials import CredentialSource

__all__ = ["SendDeps", "SendRequest", "announce_gave_up", "outbound_account", "send_mail"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SendRequest:
    """A mail to send; what a send job carries (never a secret)."""

    to: list[str]
    subject: str
    body: str
    cc: list[str] = field(default_factory=list)
    attachments: list[str] = field(default_factory=list)  # file paths the worker can read
    sender: str | None = None

    def payload(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class SendDeps:
    database: Database
    settings: Settings
    credentials: CredentialSource
    publish: Callable[[Sequence[dict[str, Any]]], object]
    clock: Clock


def send_mail(request: SendRequest, deps: SendDeps) -> smtp.SendResult:
    """Send now; publish `message.sent` or (for a failure that will not be retried)
    `message.failed`. Raises the shared.errors error of a failure."""
    with deps.database.session() as session:
        account = OutboundAccount.of(outbound_account(session))
        system_from = SystemSettings(session, deps.settings, actor="mailpoll").get(
            "system_email_address"
        )
    sender = request.sender or system_from or account.login_address
    if not sender:
        raise ConfigError(
            "system_email_address",
            "is not set, and the outbound account's login is no address to send from "
            "(mailpoll settings set system_email_address ADDRESS)",
        )
    attachments = [Path(path) for path in request.attachments]
    message = smtp.build_message(
        smtp.OutgoingMail(
            sender=sender,
            to=request.to,
            cc=request.cc,
            subject=request.subject,
            body=request.body,
            attachments=attachments,
        )
    )
    outcome: dict[str, Any] = {
        "account": account.name, "sender": sender, "to": list(request.to),
        "cc": list(request.cc), "subject": request.subject,
    }  # fmt: skip
    try:
        result = smtp.send(
            account.endpoint, deps.credentials.for_account(account.row), message, helo=None,
            debug=account.debug, account=account.name,
        )  # fmt: skip
    except MailpollError as error:
        message_id = str(message["Message-ID"])
        if isinstance(error, PermanentError):
            _announce(deps, "failed", message_id, outcome, error=str(error), permanent=True)
        raise
    _announce(deps, "sent", result.message_id, outcome, refused=result.refused)
    log.info("%s: sent %s to %s", account.name, result.message_id, ", ".join(request.to))
    return result


def announce_gave_up(deps: SendDeps, request: SendRequest, error: str) -> None:
    """A transient failure after the last retry: say so once, as `message.failed`."""
    with deps.database.session() as session:
        name = outbound_account(session).name
    outcome = {
        "account": name, "sender": request.sender or "", "to": list(request.to),
        "cc": list(request.cc), "subject": request.subject,
    }  # fmt: skip
    _announce(deps, "failed", "", outcome, error=error, permanent=False)


def _announce(
    deps: SendDeps, outcome: str, message_id: str, fields: dict[str, Any], **extra: Any
) -> None:
    event = events.build_outbound_event(
        outcome=cast(Any, outcome), message_id=message_id, time=deps.clock(), **fields, **extra
    )
    try:
        deps.publish([event])
    except MailpollError as error:  # the mail's fate does not depend on its event
        log.warning("%s: cannot publish message.%s: %s", fields["account"], outcome, error)
