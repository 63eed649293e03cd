"""The fast metadata reader gives exactly what the stdlib reader gives, or declines."""

from __future__ import annotations

import json
import random
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from bench import mailbox_fill
from shared.mail.fastparse import fast_metadata
from shared.mail.parse import email_metadata
from tests.support import corpus
from tests.unit.mail.test_parse import big_attachment

DATA = Path(__file__).resolve().parents[2] / "data"
EXPECTED = json.loads((DATA / "eml" / "expected.json").read_text(encoding="utf-8"))


def _generated(count: int) -> list[bytes]:
    """Mail as Python writes it: encoded words, display names, attachments, both policies."""
    rng = random.Random(5)
    words = ["Hello", "Grüße", "über", "€100", "a_b", "x=y", "q?", "(c)", "résumé", "O'Neil"]
    found = []
    for number in range(count):
        message = EmailMessage(policy=rng.choice([policy.SMTP, policy.default]))
        message["Subject"] = " ".join(rng.choices(words, k=rng.randrange(1, 10)))
        name = " ".join(rng.choices(words, k=rng.randrange(0, 3)))
        message["From"] = f"{name} <u{number}@example.com>" if name else f"u{number}@example.com"
        message["To"] = ", ".join(f"{rng.choice(words)} <t{n}@ex.org>" for n in range(3))
        message["Date"] = f"{rng.randrange(1, 29)} Dec 2026 10:{rng.randrange(60):02d}:00 -0500"
        message["Message-ID"] = f"<{number}.{rng.randrange(10**6)}@example.com>"
        message.set_content(
            " ".join(rng.choices(words, k=40)), subtype=rng.choice(["plain", "html"])
        )
        for _ in range(rng.randrange(0, 3)):
            filename = rng.choice(["a.pdf", "report 2026.csv", "Übersicht.csv", "x;y.txt"])
            message.add_attachment(
                rng.randbytes(rng.randrange(0, 3000)), maintype="application",
                subtype="octet-stream", filename=filename,
            )  # fmt: skip
        found.append(message.as_bytes())
    return found


def _samples() -> list[bytes]:
    found = [path.read_bytes() for path in sorted((DATA / "eml").glob("*.eml"))]
    found += [path.read_bytes() for path in sorted((DATA / "stdlib_email").glob("msg_*.txt"))]
    found += corpus.real_world() + list(mailbox_fill.messages(20, 20_000)) + _generated(300)
    return found + [raw.replace(b"\r\n", b"\n") for raw in found]


SAMPLES = _samples()


def _mutated(rng: random.Random, raw: bytes, alphabet: bytes) -> bytes:
    data = bytearray(raw)
    for _ in range(rng.randrange(1, 4)):
        if not data:
            break
        index = rng.randrange(len(data))
        action = rng.randrange(3)
        if action == 0:
            data[index] = rng.choice(alphabet)
        elif action == 1:
            del data[index : index + rng.randrange(1, 8)]
        else:
            data[index:index] = bytes([rng.choice(alphabet)])
    return bytes(data)


def _agrees(raw: bytes) -> bool:
    fast = fast_metadata(raw)
    return fast is None or fast == email_metadata(raw)


def test_the_fast_reader_agrees_with_the_stdlib_on_every_sample() -> None:
    disagree = [index for index, raw in enumerate(SAMPLES) if not _agrees(raw)]
    assert disagree == []


def test_the_fast_reader_takes_most_well_formed_mail() -> None:
    taken = [raw for raw in SAMPLES if fast_metadata(raw) is not None]
    assert len(taken) > len(SAMPLES) // 3
    assert all(fast_metadata(raw) for raw in mailbox_fill.messages(20, 20_000))


@pytest.mark.parametrize("seed", range(4))
def test_the_fast_reader_agrees_or_declines_on_mutated_mail(seed: int) -> None:
    rng = random.Random(seed)
    alphabet = b"\r\n:;<>@=?\"'-\\/ \t\x00\xff.,()_+AZaz09"
    mutated = [_mutated(rng, rng.choice(SAMPLES), alphabet) for _ in range(600)]
    assert [raw for raw in mutated if not _agrees(raw)] == []


@pytest.mark.parametrize("name", sorted(n for n, e in EXPECTED.items() if e["parse_error"]))
def test_a_message_the_stdlib_flags_is_left_to_the_stdlib(name: str) -> None:
    assert fast_metadata((DATA / "eml" / name).read_bytes()) is None


@pytest.mark.parametrize("tail", [b"", b"=", b"==", b"A=", b"AB=", b"ABC", b"A=B=", b"!", b"===="])
def test_base64_bodies_give_the_stdlib_size_or_are_declined(tail: bytes) -> None:
    for body in (b"QUJD", b"QUJDRA==", b"QUJDRE", b""):
        raw = (
            b"From: a@example.com\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
            b"Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
            b'Content-Disposition: attachment; filename="x.pdf"\r\n\r\n'
            + body
            + tail
            + b"\r\n--b--\r\n"
        )
        assert _agrees(raw)


def test_an_attachment_larger_than_a_block_is_measured_in_blocks() -> None:
    payload = random.Random(3).randbytes(10 * 1024 * 1024)
    raw = big_attachment(payload)
    fast = fast_metadata(raw)
    assert fast is not None
    assert fast.attachments[0]["size"] == len(payload)
    assert email_metadata(raw) == fast
