"""Message metadata against the golden corpus, big attachments, and input that never raises."""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path
from typing import Any

import pytest

from shared.mail.parse import MessageMetadata, parse_metadata

CORPUS = Path(__file__).resolve().parents[2] / "data" / "eml"
EXPECTED: dict[str, dict[str, Any]] = json.loads(
    (CORPUS / "expected.json").read_text(encoding="utf-8")
)
STDLIB_DATA = Path(__file__).parents[2] / "data" / "stdlib_email"


def as_dict(metadata: MessageMetadata) -> dict[str, Any]:
    return {
        **metadata.as_event_data(),
        "attachments": metadata.attachments,
        "parse_error": metadata.parse_error,
    }


def test_every_corpus_file_has_expectations_and_back() -> None:
    assert sorted(p.name for p in CORPUS.glob("*.eml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_message_gives_expected_metadata(name: str) -> None:
    assert as_dict(parse_metadata((CORPUS / name).read_bytes())) == EXPECTED[name]


def test_clean_messages_have_no_parse_error() -> None:
    clean = [
        "plain_ascii.eml", "multipart_alternative.eml", "attachments.eml", "no_date.eml",
        "utf8_address_rfc6532.eml",
    ]  # fmt: skip
    assert all(EXPECTED[name]["parse_error"] is None for name in clean)


def test_broken_messages_are_flagged_but_keep_what_could_be_read() -> None:
    for name in ["malformed_missing_close_boundary.eml", "malformed_bad_base64.eml"]:
        assert EXPECTED[name]["parse_error"]
        assert EXPECTED[name]["attachments"]
        assert EXPECTED[name]["from"] == ["a@example.com"]


def test_an_internationalised_address_is_valid_and_stays_readable() -> None:
    # RFC 6532: UTF-8 in the header itself, a non-ASCII local part included.
    raw = 'From: "Jöran" <jöran@bücher.example>\r\nTo: zoë@exämple.org\r\n\r\nhi\r\n'
    metadata = parse_metadata(raw.encode("utf-8"))
    assert metadata.parse_error is None
    assert metadata.from_ == ["jöran@bücher.example"]
    assert metadata.to == ["zoë@exämple.org"]


@pytest.mark.parametrize(
    "header",
    [
        "From: <jöran@bücher.example>".encode("latin-1"),  # 8-bit, but not UTF-8
        b"From: <=?utf-8?q?j=C3=B6ran?=@example.com>",  # RFC 2047 forbids this in an address
    ],
    ids=["latin-1", "encoded-word"],
)
def test_a_non_ascii_local_part_outside_rfc_6532_is_still_reported(header: bytes) -> None:
    metadata = parse_metadata(header + b"\r\n\r\nhi\r\n")
    assert metadata.parse_error is not None
    assert "NonASCIILocalPartDefect" in metadata.parse_error
    assert [address.partition("@")[0] for address in metadata.from_] == ["jöran"]


def test_a_malformed_address_is_still_reported() -> None:
    metadata = parse_metadata("From: Jöran <jöran@@bücher.example>\r\n\r\n".encode())
    assert metadata.parse_error is not None
    assert "HeaderDefect" in metadata.parse_error


def big_attachment(payload: bytes) -> bytes:
    """A text part and `payload` as a base64 attachment named big.bin."""
    encoded = base64.encodebytes(payload).replace(b"\n", b"\r\n")
    return (
        b"From: a@example.com\r\nTo: b@example.com\r\nSubject: big\r\n"
        b"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="big"\r\n\r\n'
        b"--big\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
        b"--big\r\nContent-Type: application/octet-stream\r\n"
        b'Content-Disposition: attachment; filename="big.bin"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + encoded + b"--big--\r\n"
    )


def test_a_2_mb_attachment_reports_its_decoded_size() -> None:
    payload = random.Random(7).randbytes(2 * 1024 * 1024)
    metadata = parse_metadata(big_attachment(payload))
    assert metadata.parse_error is None
    assert metadata.attachments == [
        {"filename": "big.bin", "content_type": "application/octet-stream", "size": len(payload)}
    ]


def test_a_single_part_attachment_message_counts_itself() -> None:
    raw = (
        b"From: a@example.com\r\nContent-Type: application/pdf\r\n"
        b'Content-Disposition: attachment; filename="only.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n"
    )
    assert parse_metadata(raw).attachments == [
        {"filename": "only.pdf", "content_type": "application/pdf", "size": 5}
    ]


def test_event_data_uses_the_contract_field_names() -> None:
    data = parse_metadata((CORPUS / "plain_ascii.eml").read_bytes()).as_event_data()
    assert list(data) == ["message_id", "subject", "from", "to", "cc", "date"]


@pytest.mark.parametrize("path", sorted(STDLIB_DATA.glob("msg_*.txt")))
def test_every_stdlib_message_parses_without_raising(path: Path) -> None:
    metadata = parse_metadata(path.read_bytes())
    assert metadata.parse_error is None or len(metadata.parse_error) <= 200


HOSTILE = [
    b"",
    b"\r\n",
    b"\x00" * 100,
    b":" * 1000,
    b"From: " + b"<" * 5000 + b"\r\n\r\n",
    b"To: " + b"a@b, " * 2000 + b"\r\n\r\n",
    b"Subject: " + b"=?utf-8?q?" * 500 + b"\r\n\r\n",
    b"Subject: =?unknown-charset?B?////?=\r\n\r\n",
    b"Date: Mon, 99 Foo 99999 99:99:99 +9999\r\n\r\n",
    b"Date: Fri, 31 Dec 9999 23:59:59 -1200\r\n\r\n",
    b"Date: Mon, 1 Jan 0001 00:00:00 +1400\r\n\r\n",
    b"Content-Type: multipart/mixed; boundary=\r\n\r\n--\r\n--\r\n",
    b'Content-Type: multipart/mixed; boundary="a"\r\n\r\n'
    + b'--a\r\nContent-Type: multipart/mixed; boundary="a"\r\n\r\n' * 300,
    b"Content-Type: message/rfc822\r\n\r\n" * 200,
    b"Content-Disposition: attachment; filename*=bogus''%ZZ%\r\n\r\nx",
    b"Content-Transfer-Encoding: quoted-printable\r\nContent-Disposition: attachment\r\n\r\n=Z=",
    b"Content-Transfer-Encoding: uuencode\r\nContent-Disposition: attachment\r\n\r\n"
    b"begin 644 x\r\n!",
    b"Message-ID: \xff\xfe\r\nSubject: \xc3\x28\xa0\xa1\r\nFrom: \xe9@\xe9\r\n\r\n",
]


@pytest.mark.parametrize("raw", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_input_never_raises(raw: bytes) -> None:
    metadata = parse_metadata(raw)
    json.dumps(as_dict(metadata), ensure_ascii=False).encode("utf-8")


def test_random_bytes_never_raise() -> None:
    rng = random.Random(20261123)
    for _ in range(300):
        raw = rng.randbytes(rng.randrange(0, 3000))
        json.dumps(as_dict(parse_metadata(raw))).encode("utf-8")


def test_mutated_corpus_messages_never_raise() -> None:
    rng = random.Random(42)
    samples = [p.read_bytes() for p in sorted(CORPUS.glob("*.eml")) if p.stat().st_size]
    alphabet = b"\r\n:;<>@=?\"'-\\/ \t\x00\xff"
    for _ in range(400):
        raw = bytearray(rng.choice(samples))
        for _ in range(rng.randrange(1, 20)):
            index = rng.randrange(len(raw))
            action = rng.randrange(3)
            if action == 0:
                raw[index] = rng.choice(alphabet)
            elif action == 1:
                del raw[index : index + rng.randrange(1, 50)]
            else:
                raw[index:index] = raw[rng.randrange(len(raw)) :][: rng.randrange(1, 80)]
            if not raw:
                break
        json.dumps(as_dict(parse_metadata(bytes(raw)))).encode("utf-8")
