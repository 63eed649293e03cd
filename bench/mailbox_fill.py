"""Filling one Dovecot mailbox fast for the benchmark: messages written straight into Maildir.

APPEND costs a round trip and an fsync per message; the Maildir `new/` folder under the
throwaway Dovecot's root (`mail_location = maildir:ROOT/mail/%u`) takes 10,000 files in a
second or two. Dovecot gives them UIDs on the first SELECT, which also builds its index, so
that work is done here, before anything is timed.
"""

from __future__ import annotations

import base64
import os
import pwd
import random
import time
from collections.abc import Iterator
from pathlib import Path

from tests.support.dovecot import DovecotServer

# fmt: off
_WORDS = (
    "invoice", "order", "shipment", "meeting", "report", "quarterly", "budget", "review",
    "contract", "delivery", "status", "account", "payment", "reminder", "project", "update",
    "schedule", "customer", "support", "ticket", "request", "please", "regards", "thanks",
    "attached", "document", "summary", "figures", "team", "weekly", "monthly", "draft", "final",
    "the", "a", "of", "and", "to", "in", "for", "on", "with", "from", "by", "at", "is", "are",
    "was", "were", "be", "this", "that", "these", "those", "will", "can",
)
# fmt: on
_VARIANTS = 64  # distinct bodies: enough that no two neighbours are alike, cheap to make


def _paragraphs(rng: random.Random, size: int) -> str:
    lines: list[str] = []
    total = 0
    while total < size:
        line = " ".join(rng.choices(_WORDS, k=12)).capitalize() + "."
        lines.append(line)
        total += len(line) + 2
    return "\r\n".join(lines)


def _bodies(size: int, seed: int) -> list[tuple[str, str]]:
    """(text part, base64 attachment) pairs that together make a message of about `size`."""
    rng = random.Random(seed)
    text_size = max(size // 2, 200)
    attachment_size = max((size - text_size - 1200) * 3 // 4, 100)  # base64 grows by 4/3
    return [
        (
            _paragraphs(rng, text_size),
            base64.encodebytes(rng.randbytes(attachment_size)).decode().replace("\n", "\r\n"),
        )
        for _ in range(_VARIANTS)
    ]


def messages(count: int, size: int, seed: int = 1) -> Iterator[bytes]:
    """`count` distinct multipart messages (text plus a PDF attachment) of about `size` bytes."""
    bodies = _bodies(size, seed)
    stamp = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
    for number in range(count):
        text, attachment = bodies[number % _VARIANTS]
        boundary = f"=_bench_{number:08d}"
        yield (
            f"Return-Path: <sender{number % 97}@example.com>\r\n"
            f"From: Sender {number % 97} <sender{number % 97}@example.com>\r\n"
            f"To: inbox@example.com, Carol <carol@example.org>\r\n"
            f"Cc: audit@example.net\r\n"
            f"Subject: Benchmark message {number} =?utf-8?q?=C3=BCber?= the report\r\n"
            f"Date: {stamp}\r\n"
            f"Message-ID: <bench.{number}.{seed}@example.com>\r\n"
            f"MIME-Version: 1.0\r\n"
            f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n'
            f"\r\n"
            f"--{boundary}\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n"
            f"Content-Transfer-Encoding: 8bit\r\n"
            f"\r\n"
            f"{text}\r\n"
            f"--{boundary}\r\n"
            f'Content-Type: application/pdf; name="report-{number}.pdf"\r\n'
            f"Content-Transfer-Encoding: base64\r\n"
            f'Content-Disposition: attachment; filename="report-{number}.pdf"\r\n'
            f"\r\n"
            f"{attachment}"
            f"--{boundary}--\r\n"
        ).encode()


def maildir(dovecot: DovecotServer, user: str) -> Path:
    """The user's INBOX Maildir, made by Dovecot itself (a login and a SELECT create it)."""
    with dovecot.imap(user) as client:
        client.select_folder("INBOX")
    path = dovecot.root / "mail" / user
    if not (path / "new").is_dir():
        raise RuntimeError(f"no Maildir at {path}: has the mail_location changed?")
    return path


def fill(dovecot: DovecotServer, user: str, count: int, size: int) -> tuple[int, int]:
    """Put `count` messages into the user's INBOX; returns (messages, bytes) as Dovecot sees them.

    Files are written without fsync (the mailbox is thrown away) and owned by Dovecot's user.
    """
    target = maildir(dovecot, user)
    entry = pwd.getpwnam("dovecot")
    uid, gid = entry.pw_uid, entry.pw_gid
    base = int(time.time())
    for number, raw in enumerate(messages(count, size)):
        name = f"{base}.M{number:06d}P{os.getpid()}.bench,S={len(raw)}"
        temp = target / "tmp" / name
        temp.write_bytes(raw)
        os.chown(temp, uid, gid)
        os.rename(temp, target / "new" / name)
    return index(dovecot, user)


def index(dovecot: DovecotServer, user: str) -> tuple[int, int]:
    """SELECT (new/ moves to cur/, UIDs are given) and read every size so the index is warm."""
    with dovecot.imap(user) as client:
        client.select_folder("INBOX")
        uids = client.search("ALL")
        total = 0
        for start in range(0, len(uids), 1000):
            answer = client.fetch(uids[start : start + 1000], [b"RFC822.SIZE", b"INTERNALDATE"])
            total += sum(int(item[b"RFC822.SIZE"]) for item in answer.values())
    return len(uids), total
