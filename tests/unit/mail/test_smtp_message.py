"""Building outgoing mail: header injection refused, addresses checked, attachments typed."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from shared.errors import ConfigError
from shared.mail.smtp import OutgoingMail, build_message


def mail(**changes: object) -> OutgoingMail:
    values: dict[str, object] = {
        "sender": "mailpoll@example.org",
        "to": ["alice@example.com"],
        "subject": "Hello",
        "body": "Hi Alice.\n",
    }
    values.update(changes)
    return OutgoingMail(**values)  # type: ignore[arg-type]


def reparsed(message: EmailMessage) -> EmailMessage:
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


@pytest.mark.parametrize("breaker", ["\r\n", "\n", "\r", "\0"])
@pytest.mark.parametrize(
    ("field", "change"),
    [
        ("subject", lambda bad: {"subject": f"Hello{bad}Bcc: victim@example.net"}),
        ("to", lambda bad: {"to": [f"alice@example.com{bad}Bcc: victim@example.net"]}),
        ("cc", lambda bad: {"cc": [f"bob@example.com{bad}Bcc: victim@example.net"]}),
        ("sender", lambda bad: {"sender": f"mailpoll@example.org{bad}Bcc: v@example.net"}),
        ("reply_to", lambda bad: {"reply_to": f"help@example.org{bad}X-Evil: 1"}),
    ],
)
def test_a_line_break_or_nul_in_a_header_field_is_refused_naming_the_field(
    field: str, change: object, breaker: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        build_message(mail(**change(breaker)))  # type: ignore[operator]
    assert caught.value.field == field


@pytest.mark.parametrize(
    "address",
    [
        "",
        "alice",
        "alice@",
        "@example.com",
        "alice@@example.com",
        "alice@b@example.com",
        "alice@example.com, eve@example.net",
        "alice@example.com eve@example.net",
        "Alice <alice@example.com>, Eve <eve@example.net>",
        "alice@example.com)<eve@example.net>",
        "undisclosed-recipients:;",
    ],
)
def test_anything_but_one_address_is_refused(address: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build_message(mail(to=[address]))
    assert caught.value.field == "to"


def test_display_names_are_kept_and_every_recipient_is_listed() -> None:
    message = reparsed(
        build_message(
            mail(
                sender="Mailpoll <mailpoll@example.org>",
                to=["Alice Ä <alice@example.com>", "carol@example.com"],
                cc=["bob@example.com"],
                reply_to="help@example.org",
            )
        )
    )
    assert message["From"].addresses[0].addr_spec == "mailpoll@example.org"
    assert [a.addr_spec for a in message["To"].addresses] == [
        "alice@example.com",
        "carol@example.com",
    ]
    assert message["To"].addresses[0].display_name == "Alice Ä"
    assert message["Cc"].addresses[0].addr_spec == "bob@example.com"
    assert message["Reply-To"].addresses[0].addr_spec == "help@example.org"


def test_a_mail_without_any_recipient_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        build_message(mail(to=[]))
    assert caught.value.field == "to"


def test_cc_alone_is_enough() -> None:
    message = build_message(mail(to=[], cc=["bob@example.com"]))
    assert message["To"] is None
    assert message["Cc"] == "bob@example.com"


def test_a_unicode_subject_is_encoded_and_reads_back_the_same() -> None:
    message = build_message(mail(subject="Grüße — 日本語 report"))
    wire = message.as_bytes()
    assert b"Subject: =?utf-8?" in wire
    assert all(byte < 128 for byte in wire.split(b"\r\n\r\n", 1)[0])
    assert reparsed(message)["Subject"] == "Grüße — 日本語 report"


def test_message_id_and_date_are_set() -> None:
    message = build_message(mail())
    message_id = message["Message-ID"]
    assert message_id.startswith("<")
    assert message_id.endswith("@example.org>")
    assert parsedate_to_datetime(message["Date"]).tzinfo is not None
    assert build_message(mail())["Message-ID"] != message_id


def test_the_body_is_text_and_survives_the_round_trip() -> None:
    message = reparsed(build_message(mail(body="Zoë's report\n.line with a dot\n")))
    body = message.get_body(("plain",))
    assert body is not None
    assert body.get_content().splitlines() == ["Zoë's report", ".line with a dot"]


def test_an_attachment_from_a_file_gets_its_name_and_guessed_content_type(
    tmp_path: Path,
) -> None:
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(b"%PDF-1.4 \x00\xff binary")
    csv = tmp_path / "data.csv"
    csv.write_text("a,b\n1,2\n")
    unknown = tmp_path / "blob.unknownext"
    unknown.write_bytes(b"\x01\x02")
    message = reparsed(build_message(mail(attachments=[pdf, csv, unknown])))
    parts = {part.get_filename(): part for part in message.iter_attachments()}
    assert parts["report.pdf"].get_content_type() == "application/pdf"
    assert parts["report.pdf"].get_content() == b"%PDF-1.4 \x00\xff binary"
    assert parts["data.csv"].get_content_type() == "text/csv"
    assert parts["data.csv"].get_payload(decode=True) == b"a,b\n1,2\n"
    assert parts["blob.unknownext"].get_content_type() == "application/octet-stream"


def test_an_attachment_given_as_bytes_keeps_its_name_and_type() -> None:
    message = reparsed(
        build_message(mail(attachments=[("pic.png", "image/png", b"\x89PNG\r\n\x1a\n")]))
    )
    (part,) = message.iter_attachments()
    assert part.get_filename() == "pic.png"
    assert part.get_content_type() == "image/png"
    assert part.get_content() == b"\x89PNG\r\n\x1a\n"


def test_a_missing_attachment_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        build_message(mail(attachments=[tmp_path / "missing.pdf"]))
    assert caught.value.field == "attachments"


@pytest.mark.parametrize(
    "attachment",
    [
        ("a\r\nb.txt", "text/plain", b"x"),
        ("a.txt", "text/plain\r\nX-Evil: 1", b"x"),
        ("a.txt", "plain", b"x"),
    ],
)
def test_a_bad_attachment_name_or_type_is_refused(attachment: tuple[str, str, bytes]) -> None:
    with pytest.raises(ConfigError) as caught:
        build_message(mail(attachments=[attachment]))
    assert caught.value.field == "attachments"
