"""Keyset pages: a cursor is the last name of a page, opaque to the client."""

from __future__ import annotations

import base64
import binascii

from web.problems import Problem


def encode_cursor(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    """The name a page ends with, from the cursor the page before gave."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        name = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        name = "\x00"
    return safe_text("cursor", name, "is not a cursor this API gave (use next_cursor)")


def safe_text(field: str, value: str | None, reason: str | None = None) -> str | None:
    """Text a database can compare: UTF-8 (JSON can carry lone surrogates) without NUL
    (PostgreSQL refuses NUL even in a comparison)."""
    if value is None:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise Problem(422, f"{field}: {reason or 'is not UTF-8 text'}", field=field) from None
    if "\x00" in value:
        raise Problem(422, f"{field}: {reason or 'must not contain NUL characters'}", field=field)
    return value
