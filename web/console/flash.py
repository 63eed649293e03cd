"""Messages that survive one redirect (post, redirect, get): a short-lived cookie."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Literal

from starlette.requests import Request
from starlette.responses import Response

COOKIE = "mailpoll_flash"
Level = Literal["ok", "note", "error"]
Message = tuple[Level, str]


def put(response: Response, messages: list[Message]) -> None:
    """Show these messages on the next page this browser gets."""
    if not messages:
        return
    text = json.dumps([[level, words[:2000]] for level, words in messages[:20]])
    value = base64.urlsafe_b64encode(text.encode()).decode()
    response.set_cookie(COOKIE, value, max_age=120, path="/", httponly=True, samesite="lax")


def waiting(request: Request) -> list[Message]:
    """The messages waiting for this page (a page that shows them calls `forget`)."""
    raw = request.cookies.get(COOKIE)
    if raw is None:
        return []
    try:
        found = json.loads(base64.urlsafe_b64decode(raw.encode()))
    except (binascii.Error, ValueError):
        return []
    if not isinstance(found, list):
        return []
    return [
        (level, words)
        for level, words in (item for item in found if isinstance(item, list) and len(item) == 2)
        if level in ("ok", "note", "error") and isinstance(words, str)
    ]


def forget(response: Response) -> None:
    """They were shown: once is enough."""
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")
