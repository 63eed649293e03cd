"""The fast FETCH reader gives exactly what imapclient's parser gives, or lets it decide."""

from __future__ import annotations

import random
from typing import Any

import pytest
from imapclient.exceptions import ProtocolError
from imapclient.response_parser import parse_fetch_response

from shared.mail import fetch_reader
from shared.mail.fetch_reader import read_fetch

LISTING = [
    b'1 (UID 40 INTERNALDATE "01-Dec-2026 06:51:58 +0000" RFC822.SIZE 19688)',
    b'2 (RFC822.SIZE 5 UID 41 INTERNALDATE "1-Jan-2020 23:59:59 -0730")',
    b'3 (UID 42 INTERNALDATE "31-Dec-1999 00:00:00 +1400" RFC822.SIZE 0)',
]
BODIES = [
    (b"1 (UID 40 BODY[] {12}", b"Subject: a\r\n"),
    b")",
    (b"2 (BODY[] {3}", b"x\r\n"),
    b" UID 41)",
    (b'3 (UID 42 INTERNALDATE "01-Dec-2026 06:51:58 +0000" BODY[] {0}', b""),
    b" RFC822.SIZE 0)",
]
# Shapes the fast reader hands to imapclient, each with what imapclient makes of it.
NOT_SIMPLE = {
    "flags": [b"1 (UID 40 FLAGS (\\Seen) RFC822.SIZE 3)"],
    "unsolicited flags": [*LISTING, b"7 (FLAGS (\\Seen))"],
    "nil date": [b"1 (UID 40 INTERNALDATE NIL RFC822.SIZE 3)"],
    "escaped string": [b'1 (UID 40 X-GM-LABELS "a\\"b")'],
    "other string": [b'1 (UID 40 X-THING "value")'],
    "modseq": [b"1 (UID 40 MODSEQ (12345) RFC822.SIZE 3)"],
    "section": [(b"1 (UID 40 BODY[HEADER] {3}", b"a\r\n"), b")"],
    "two literals": [(b"1 (UID 40 BODY[] {1}", b"a"), (b" RFC822.HEADER {1}", b"b"), b")"],
    "lower case": [b"1 (uid 40 rfc822.size 3)"],
    "repeated uid": [b"1 (UID 40 RFC822.SIZE 3)", b"2 (UID 40 RFC822.SIZE 4)"],
    "bad date": [b'1 (UID 40 INTERNALDATE "yesterday" RFC822.SIZE 3)'],
    "short literal": [(b"1 (UID 40 BODY[] {5}", b"abc"), b")"],
}


def imapclient_reads(data: list[Any], normalise: bool) -> dict[int, dict[bytes, Any]]:
    return dict(parse_fetch_response(data, normalise, True))


@pytest.mark.parametrize("normalise", [False, True])
@pytest.mark.parametrize(
    "data", [LISTING, BODIES, [None], []], ids=["list", "bodies", "none", "empty"]
)
def test_simple_answers_read_as_imapclient_reads_them(data: list[Any], normalise: bool) -> None:
    assert fetch_reader._read_simple(data, normalise) is not None  # the fast path took them
    fast = read_fetch(data, normalise_times=normalise)
    assert fast == imapclient_reads(data, normalise)
    for uid, fields in fast.items():  # same types too: datetimes keep their zones
        for key, value in fields.items():
            assert type(value) is type(imapclient_reads(data, normalise)[uid][key])


@pytest.mark.parametrize("name", sorted(NOT_SIMPLE))
def test_other_answers_are_left_to_imapclient(name: str) -> None:
    data = NOT_SIMPLE[name]
    if name != "bad date":
        assert fetch_reader._read_simple(data, False) is None
    try:
        expected: object = imapclient_reads(data, False)
    except ProtocolError as error:
        expected = error
    if isinstance(expected, ProtocolError):
        with pytest.raises(ProtocolError):
            read_fetch(data, normalise_times=False)
    else:
        assert read_fetch(data, normalise_times=False) == expected


def test_a_date_the_server_wrote_badly_is_none_as_in_imapclient() -> None:
    data = NOT_SIMPLE["bad date"]
    assert read_fetch(data, normalise_times=False)[40][b"INTERNALDATE"] is None


def test_generated_answers_read_as_imapclient_reads_them() -> None:
    """Items in every order, dates in every zone, literals of every small size."""
    rng = random.Random(11)
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    for _ in range(300):
        data: list[Any] = []
        for seq in range(1, rng.randint(1, 6)):
            zone = f"{rng.choice('+-')}{rng.randint(0, 14):02d}{rng.choice([0, 30, 45]):02d}"
            clock = f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
            day = f"{rng.randint(1, 28)}-{rng.choice(months)}-{rng.randint(1970, 2099)}"
            date = f'"{day} {clock} {zone}"'
            pairs = [
                f"UID {seq * 7}",
                f"INTERNALDATE {date}",
                f"RFC822.SIZE {rng.randint(0, 10**9)}",
            ]
            rng.shuffle(pairs)
            if rng.random() < 0.5:
                data.append(f"{seq} ({' '.join(pairs)})".encode())
                continue
            cut = rng.randint(0, len(pairs))
            body = rng.randbytes(rng.randint(0, 40))
            head = " ".join([*pairs[:cut], f"BODY[] {{{len(body)}}}"])
            data.append((f"{seq} ({head}".encode(), body))
            data.append("".join(f" {pair}" for pair in pairs[cut:]).encode() + b")")
        assert fetch_reader._read_simple(data, False) is not None, data
        assert read_fetch(data, normalise_times=False) == imapclient_reads(data, False), data
