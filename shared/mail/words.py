"""A server's words made fit for an error message: decoded, no control characters, bounded.

imaplib, poplib and smtplib hand over what a server said as bytes, and often put it in their
own messages as a Python repr (`b'[AUTHENTICATIONFAILED] ...'`). People read these messages
(Test Configuration, `mailpoll status`, error reports), so they get the words, not the repr,
and never a control character a hostile server could use to forge a line of output.
"""

from __future__ import annotations

import ast
import re
import unicodedata

MAX_CHARS = 200
_LITERAL = r"""(?<!\w)b(?:'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")"""
_LIST = re.compile(rf"\[{_LITERAL}(?:, {_LITERAL})*\]")
_ONE = re.compile(_LITERAL)
_UNSEEN = {"Cc", "Cf", "Cs"}  # control, format (bidi overrides), lone surrogates


def server_words(said: bytes | str | None, limit: int = MAX_CHARS) -> str:
    """What a server said, as one line a person can read.

    Bytes are read as UTF-8 (what cannot be decoded becomes U+FFFD); bytes reprs inside a
    library's message become their text; control characters become spaces, runs of spaces
    one; more than `limit` characters are cut, ending in an ellipsis.
    """
    if said is None:
        return ""
    text = said.decode("utf-8", "replace") if isinstance(said, bytes) else _unrepr(said)
    text = "".join(" " if unicodedata.category(c) in _UNSEEN else c for c in text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _unrepr(text: str) -> str:
    """`b'...'` and `[b'...', b'...']` inside `text`, replaced by the decoded words."""
    text = _LIST.sub(lambda match: " ".join(map(_decoded, _ONE.findall(match[0]))), text)
    return _ONE.sub(lambda match: _decoded(match[0]), text)


def _decoded(literal: str) -> str:
    try:
        value = ast.literal_eval(literal)
    except (ValueError, SyntaxError):
        return literal
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else literal
