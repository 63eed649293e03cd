"""Mail the admin API sends: a test mail through the outbound account, and feedback.

Both go out as `mailpoll send` and `mailpoll feedback` send: through the enabled outbound
account, with the system email address as sender, and a `message.sent` event.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, Field

from shared.accounts import rules
from shared.accounts.service import AccountService
from shared.errors import ConfigError
from shared.feedback import send_feedback
from shared.system_settings import SystemSettings
from web.auth import Admin, Viewer, services_of
from web.problems import Problem, documented
from web.services import SendMail

router = APIRouter(tags=["mail"], responses=documented(401, 403, 422, 503))
_TEST_BODY = (
    "This message was sent by mailpoll's admin API as a test: the outbound account {name} "
    "works.\r\n"
)


class TestMail(BaseModel):
    to: Annotated[
        str | None,
        Field(max_length=320, description="where to send it [default: the account's test_to]"),
    ] = None


class SentMail(BaseModel):
    """The mail the server took; `refused` lists recipients it refused: [code, words]."""

    message_id: str
    to: list[str]
    refused: dict[str, tuple[int, str]]


class FeedbackText(BaseModel):
    text: Annotated[str, Field(min_length=1, max_length=10_000)]


class FeedbackOutcome(BaseModel):
    """`sent` false: there was no address or no way to mail it, so it was logged instead."""

    sent: bool
    detail: str
    message_id: str | None = None


@router.post(
    "/api/accounts/{name}/test-mail",
    summary="Send a test mail through this outbound account, to test_to or the address given",
    responses=documented(404),
)
def send_test_mail(
    name: str, request: Request, principal: Admin, given: Annotated[TestMail | None, Body()] = None
) -> SentMail:
    send = _sender(request)
    services = services_of(request)
    with services.database.session() as session:
        account = AccountService(session, secrets=services.secrets, actor=principal.name).get(name)
    if account.type != "outbound":
        raise ConfigError("type", f"{name} is an inbound account: test mail goes out through an "
                          "outbound account")  # fmt: skip
    if not account.enabled:
        raise ConfigError("enabled", f"{name} is disabled: mail goes out through the enabled "
                          "outbound account")  # fmt: skip
    to = (given.to if given else None) or account.test_to
    if not to:
        raise ConfigError("test_to", "is not set: give an address to send to, or set test_to")
    rules.check_address("to", to)
    sent = send([to], f"mailpoll test mail from {name}", _TEST_BODY.format(name=name))
    return SentMail(message_id=sent["message_id"], to=[to], refused=sent["refused"])


@router.post("/api/feedback", summary="Mail feedback to feedback_email_address (else log it)")
def feedback(request: Request, principal: Viewer, given: FeedbackText) -> FeedbackOutcome:
    send = _sender(request)
    services = services_of(request)
    with services.database.session() as session:
        address = SystemSettings(session, services.settings, actor=principal.name).get(
            "feedback_email_address"
        )
    outcome = send_feedback(
        given.text, address, lambda to, subject, body: send([to], subject, body)["message_id"]
    )
    return FeedbackOutcome(sent=outcome.sent, detail=outcome.detail, message_id=outcome.message_id)


def _sender(request: Request) -> SendMail:
    send = services_of(request).send_mail
    if send is None:
        raise Problem(503, "sending mail is not available in this process")
    return send
