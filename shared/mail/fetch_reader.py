"""UID FETCH with a fast reader for the answers a poll asks for; imapclient's parser otherwise.

imapclient reads a FETCH answer with a lexer that walks every byte outside the literals in
Python: about 80 us a message for `INTERNALDATE RFC822.SIZE`, several times what it costs to
receive the answer (bench/README.md). A poll asks for two shapes of answer, and servers give
them as flat lists of `NAME value` pairs around at most one literal:

    12 (UID 40 INTERNALDATE "01-Dec-2026 06:51:58 +0000" RFC822.SIZE 19688)
    12 (UID 40 BODY[] {19688}<literal>)

Those are read here with a few regular expressions, into exactly what imapclient gives. An
answer with anything else in it (FLAGS, MODSEQ, NIL, escapes in a string, a second literal,
an unsolicited FETCH without UID) is handed whole to imapclient's own parser.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from imapclient.datetime_util import parse_to_datetime
from imapclient.exceptions import IMAPClientError
from imapclient.response_parser import parse_fetch_response

Fetched = dict[int, dict[bytes, Any]]

_PAIRS = rb'(?:[A-Z0-9.]+ (?:\d+|"[^"\\\r\n]*"))(?: [A-Z0-9.]+ (?:\d+|"[^"\\\r\n]*"))*'
_PAIR = re.compile(rb'([A-Z0-9.]+) (?:(\d+)|"([^"\\\r\n]*)")')
_LINE = re.compile(rb"(\d+) \((" + _PAIRS + rb")\)")
_BEFORE_LITERAL = re.compile(rb"(\d+) \((?:(" + _PAIRS + rb") )?([A-Z0-9.]+(?:\[\])?) \{(\d+)\}")
_AFTER_LITERAL = re.compile(rb"(?: (" + _PAIRS + rb"))?\)")
_DATES = frozenset({b"INTERNALDATE"})


def uid_fetch(client: Any, uids: Sequence[int], items: Sequence[bytes]) -> Fetched:
    """`client.fetch(uids, items)` for an IMAPClient with `use_uid` (the default): the same
    result, read faster. Errors are imapclient's (`IMAPClientError` and its subclasses)."""
    if not uids:
        return {}
    imap = client._imap  # imapclient's imaplib.IMAP4: `uid` is its public command
    typ, data = imap.uid(
        "FETCH", ",".join(str(uid) for uid in uids), "(" + " ".join(i.decode() for i in items) + ")"
    )
    if typ != "OK":
        raise IMAPClientError(f"fetch failed: {_text(data)}")
    answer = read_fetch(data, normalise_times=client.normalise_times)
    return {uid: answer[uid] for uid in uids if uid in answer}  # as asked, others dropped


def read_fetch(data: list[Any], *, normalise_times: bool) -> Fetched:
    """imaplib's FETCH lines as imapclient's `parse_fetch_response(data, normalise_times,
    uid_is_key=True)` reads them."""
    fast = _read_simple(data, normalise_times)
    if fast is not None:
        return fast
    return dict(parse_fetch_response(data, normalise_times, True))


def _read_simple(data: list[Any], normalise_times: bool) -> Fetched | None:
    """The answer read by the regular expressions, or None where one line is not simple."""
    if data == [None]:
        return {}
    result: Fetched = {}
    index = 0
    while index < len(data):
        part = data[index]
        if isinstance(part, tuple):  # `N (pairs NAME {size}`, the literal, then ` pairs)`
            after = data[index + 1] if index + 1 < len(data) else None
            if len(part) != 2 or not isinstance(after, bytes):
                return None
            head = _BEFORE_LITERAL.fullmatch(part[0])
            tail = _AFTER_LITERAL.fullmatch(after)
            if head is None or tail is None or int(head.group(4)) != len(part[1]):
                return None  # imapclient refuses a literal of another size than announced
            pairs = [*_PAIR.findall(head.group(2) or b""), *_PAIR.findall(tail.group(1) or b"")]
            literal = (head.group(3), part[1])
            index += 2
        elif isinstance(part, bytes) and (head := _LINE.fullmatch(part)) is not None:
            pairs, literal = _PAIR.findall(head.group(2)), None
            index += 1
        else:
            return None
        fields = _fields(pairs, literal, normalise_times)
        uid = fields.pop(b"UID", None) if fields is not None else None
        if not isinstance(uid, int) or uid in result or not fields:
            return None  # unsolicited, repeated or empty: the full parser decides
        fields[b"SEQ"] = int(head.group(1))
        result[uid] = fields
    return result


def _fields(
    pairs: list[tuple[bytes, bytes, bytes]], literal: tuple[bytes, bytes] | None,
    normalise_times: bool,
) -> dict[bytes, Any] | None:  # fmt: skip
    fields: dict[bytes, Any] = {}
    for name, number, text in pairs:
        if name in fields:
            return None
        if number:
            fields[name] = int(number)
        elif name in _DATES:
            fields[name] = _date(text, normalise_times)
        else:
            return None  # imapclient's rules for other strings are not repeated here
    if literal is not None:
        if literal[0] in fields:
            return None
        fields[literal[0]] = literal[1]
    return fields


@functools.lru_cache(maxsize=4096)  # a mailbox filled at once shares its dates
def _date(text: bytes, normalise: bool) -> datetime | None:
    try:
        date: datetime = parse_to_datetime(text, normalise=normalise)
    except ValueError:
        return None  # as imapclient: an INTERNALDATE it cannot read is None
    return date


def _text(data: list[Any]) -> str:
    first = data[0] if data else b""
    return first.decode("utf-8", "replace") if isinstance(first, bytes) else str(first)
