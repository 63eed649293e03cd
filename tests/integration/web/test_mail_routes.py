"""A test mail and feedback through the admin API, sent to a real SMTP server (aiosmtpd) the
way `mailpoll send` and `mailpoll feedback` send them."""

from __future__ import annotations

import email
from collections.abc import Iterator
from email.message import Message

import pytest

from tests.integration.web.conftest import Api
from tests.support.smtp_server import SmtpServer
from tests.support.web_server import mailpoll

pytestmark = pytest.mark.integration
SYSTEM = "mailpoll@example.com"


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture(scope="module")
def outbound(api: Api, smtp: SmtpServer) -> str:
    """The module's enabled outbound account, sending to the SMTP server."""
    added = mailpoll(
        api.web.env, "accounts", "add", "mailer", "--type", "outbound", "--host", "127.0.0.1",
        "--port", str(smtp.port), "--encryption", "none", "--auth-type", "none",
        "--test-to", "tester@example.com",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert mailpoll(api.web.env, "settings", "set", "system_email_address", SYSTEM).returncode == 0
    return "mailer"


def last_mail(smtp: SmtpServer) -> tuple[list[str], str, Message]:
    received = smtp.received[-1]
    return received.rcpt_tos, received.mail_from, email.message_from_bytes(received.raw)


def test_a_test_mail_goes_to_test_to_or_to_the_address_given(
    api: Api, smtp: SmtpServer, outbound: str
) -> None:
    sent = api.admin().post(f"/api/accounts/{outbound}/test-mail")
    assert sent.status_code == 200, sent.text
    assert sent.json()["to"] == ["tester@example.com"]
    assert sent.json()["refused"] == {}
    to, sender, message = last_mail(smtp)
    assert (to, sender) == (["tester@example.com"], SYSTEM)
    assert message["Subject"] == "mailpoll test mail from mailer"
    assert message["Message-ID"] == sent.json()["message_id"]

    other = api.admin().post(f"/api/accounts/{outbound}/test-mail", json={"to": "o@example.com"})
    assert other.status_code == 200, other.text
    assert last_mail(smtp)[0] == ["o@example.com"]


def test_a_test_mail_is_refused_with_the_field_and_reason(
    api: Api, smtp: SmtpServer, outbound: str
) -> None:
    count = len(smtp.received)
    bad = api.admin().post(f"/api/accounts/{outbound}/test-mail", json={"to": "not an address"})
    assert bad.status_code == 422
    assert bad.json()["field"] == "to"
    assert bad.json()["detail"] == (
        "to: 'not an address' is not an email address like name@example.com"
    )
    inbound = mailpoll(api.web.env, "accounts", "add", "inbox", "--type", "inbound", "--host",
                       "127.0.0.1", "--login", "a")  # fmt: skip
    assert inbound.returncode == 0, inbound.stderr
    wrong_kind = api.admin().post("/api/accounts/inbox/test-mail")
    assert (wrong_kind.status_code, wrong_kind.json()["field"]) == (422, "type")
    assert api.admin().post("/api/accounts/nobody/test-mail").status_code == 404
    assert api.viewer().post(f"/api/accounts/{outbound}/test-mail").status_code == 403
    assert len(smtp.received) == count


def test_feedback_is_mailed_to_the_feedback_address_or_logged_with_the_clis_words(
    api: Api, smtp: SmtpServer, outbound: str
) -> None:
    logged = api.viewer().post("/api/feedback", json={"text": "first words"})
    assert logged.status_code == 200, logged.text
    assert logged.json() == {
        "sent": False,
        "detail": "no feedback_email_address is set: the feedback was logged",
        "message_id": None,
    }
    cli = mailpoll(api.web.env, "feedback", "first words")
    assert cli.stderr.strip().splitlines()[-1] == logged.json()["detail"]

    address = "feedback@example.com"
    assert (
        mailpoll(api.web.env, "settings", "set", "feedback_email_address", address).returncode == 0
    )
    sent = api.viewer().post("/api/feedback", json={"text": "the console is lovely"})
    assert sent.status_code == 200, sent.text
    assert sent.json()["sent"] is True
    to, sender, message = last_mail(smtp)
    assert (to, sender, message["Subject"]) == ([address], SYSTEM, "mailpoll feedback")
    assert message.get_payload(decode=True).decode().strip() == "the console is lovely"
    assert api.viewer().post("/api/feedback", json={"text": ""}).status_code == 422
    assert api.client().post("/api/feedback", json={"text": "x"}).status_code == 401
