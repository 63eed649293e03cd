"""Feedback from the people who run mailpoll: mailed to feedback_email_address, else logged.

`mailpoll feedback` and the API's `POST /api/feedback` both come through here, so a missing
address or outbound account is handled, and worded, the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from shared.errors import ConfigError

log = logging.getLogger(__name__)
SUBJECT = "mailpoll feedback"
#: Sends one mail: (to, subject, body) -> its Message-ID.
Send = Callable[[str, str, str], str]


@dataclass(frozen=True)
class FeedbackOutcome:
    """Whether it was mailed, and a line saying what happened."""

    sent: bool
    detail: str
    message_id: str | None = None
    to: str | None = None


def send_feedback(text: str, address: str | None, send: Send) -> FeedbackOutcome:
    """Mail `text` to `address`; with no address, or no way to mail, log it instead."""
    if not address:
        log.warning("feedback (no feedback_email_address set, so only logged): %s", text)
        return FeedbackOutcome(False, "no feedback_email_address is set: the feedback was logged")
    try:
        message_id = send(address, SUBJECT, text + "\n")
    except ConfigError as error:
        log.warning("feedback (cannot be mailed: %s): %s", error, text)
        return FeedbackOutcome(False, f"cannot mail the feedback ({error}): it was logged")
    return FeedbackOutcome(True, f"sent: {message_id} to {address}", message_id, address)
