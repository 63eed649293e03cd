"""Messages of real-world shapes for pipeline tests: the stdlib's own test mail plus made ones."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

STDLIB_MAIL = Path(__file__).parents[1] / "data" / "stdlib_email"  # copies: Debian lacks them


def plain(subject: str = "Hello", body: str = "Hi there.\r\n", date: str | None = None) -> bytes:
    message = EmailMessage()
    message["From"] = "Alice <alice@example.com>"
    message["To"] = "bob@example.com"
    message["Subject"] = subject
    message["Message-ID"] = f"<{abs(hash((subject, body)))}@example.com>"
    if date is not None:
        message["Date"] = date
    message.set_content(body)
    return message.as_bytes()


def with_attachment(size: int = 50_000) -> bytes:
    message = EmailMessage()
    message["From"] = "reports@example.com"
    message["To"] = "inbox@example.com, Carol <carol@example.com>"
    message["Cc"] = "dave@example.com"
    message["Subject"] = "Monthly report"
    message.set_content("See attached.")
    message.add_alternative("<p>See <b>attached</b>.</p>", subtype="html")
    payload = bytes(range(256)) * (size // 256 + 1)
    message.add_attachment(
        payload[:size], maintype="application", subtype="pdf", filename="report.pdf"
    )
    return message.as_bytes()


ENCODED_HEADERS = (
    b"From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <juergen@example.de>\r\n"
    b"To: team@example.com\r\n"
    b"Subject: =?utf-8?b?UmVjaG51bmcgw5xiZXJzaWNodCDimJE=?=\r\n"
    b"Message-ID: <encoded@example.de>\r\n"
    b"Date: Mon, 23 Nov 2026 09:59:58 +0100\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n\r\n" + "Grüße aus Köln – 8-bit body.\r\n".encode()
)

EIGHT_BIT_NO_MIME = (
    b"From: someone@example.com\r\nSubject: raw 8bit\r\n\r\n"
    + "Ünïcödé without any MIME headers at all.\r\n".encode()
)

MALFORMED = (
    b"From: broken@example.com\r\n"
    b"Subject: broken mime\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="XYZ"\r\n'
    b"this line is not a header\r\n\r\n"
    b"--XYZ\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    b"!!! not base64 !!!\r\n"
)  # and the closing boundary never comes


def real_world() -> list[bytes]:
    """Plain, multipart with attachment, RFC 2047, 8-bit, malformed, and stdlib samples."""
    made = [plain(), with_attachment(), ENCODED_HEADERS, EIGHT_BIT_NO_MIME, MALFORMED]
    samples = sorted(STDLIB_MAIL.glob("msg_*.txt"))[:10]
    return made + [_crlf(path.read_bytes()) for path in samples]


def _crlf(raw: bytes) -> bytes:
    """IMAP stores lines with CRLF; give Dovecot what it will hand back unchanged."""
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
