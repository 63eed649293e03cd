"""Sending through a real SMTP server (aiosmtpd): encryption, AUTH, refusals and failures."""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest

from shared.errors import AuthenticationError, ConnectError, ServerTimeoutError, TLSError
from shared.keystore import DirectoryKeystore, resolve_credentials
from shared.mail.client import Credentials, Encryption, Endpoint
from shared.mail.greeting import WrongPortError
from shared.mail.smtp import (
    DeliveryDeferred,
    DeliveryRefused,
    OutgoingMail,
    build_message,
    send,
)
from shared.properties import Properties
from tests.support.dovecot import DovecotServer
from tests.support.smtp_server import SmtpServer, silent_server

pytestmark = pytest.mark.integration

LOGIN, PASSWORD = "sender@example.org", "s3cret-Pa55"
StartServer = Callable[..., SmtpServer]


@pytest.fixture
def smtp_server() -> Iterator[StartServer]:
    """Starts SmtpServers with the given options; all are stopped after the test."""
    servers: list[SmtpServer] = []

    def start(**options: Any) -> SmtpServer:
        servers.append(SmtpServer(**options))
        return servers[-1].start()

    yield start
    for server in servers:
        server.stop()


def endpoint(
    port: int, encryption: Encryption = "none", ca_file: Path | None = None, extra: str = ""
) -> Endpoint:
    lines = f"tls_ca_file={ca_file}\n{extra}" if ca_file else extra
    return Endpoint("127.0.0.1", port, encryption, Properties.of(lines, "outbound"))


def server_endpoint(server: SmtpServer, encryption: Encryption, extra: str = "") -> Endpoint:
    return endpoint(server.port, encryption, server.ca_file, extra)


def outgoing(*to: str, subject: str = "Quarterly report") -> OutgoingMail:
    return OutgoingMail(
        sender="Mailpoll <mailpoll@example.org>",
        to=list(to or ["alice@example.com"]),
        cc=["bob@example.com"],
        subject=subject,
        body="Numbers attached.\n",
        attachments=[("numbers.csv", "text/csv", b"a,b\n1,2\n")],
    )


def wire_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "mailpoll.wire"]


ENCRYPTIONS: dict[Encryption, dict[str, bool]] = {
    "none": {},
    "starttls": {"starttls": True},
    "ssl": {"implicit_tls": True},
}


@pytest.mark.parametrize("auth_type", ["local", "external", "none"])
@pytest.mark.parametrize("encryption", ["none", "starttls", "ssl"])
def test_mail_is_delivered_with_each_encryption_and_auth_type(
    smtp_server: StartServer, tmp_path: Path, encryption: Encryption, auth_type: str
) -> None:
    server = smtp_server(auth=(LOGIN, PASSWORD), **ENCRYPTIONS[encryption])
    credentials = None
    if auth_type != "none":
        (tmp_path / "smtp.user").write_text(LOGIN)
        (tmp_path / "smtp.password").write_text(PASSWORD + "\n")
        credentials = resolve_credentials(
            auth_type, LOGIN, PASSWORD, "smtp.user", "smtp.password", DirectoryKeystore(tmp_path)
        )
    message = build_message(outgoing(subject="Grüße from mailpoll"))

    result = send(server_endpoint(server, encryption), credentials, message, account="out")

    assert result.refused == {}
    (received,) = server.received
    assert received.mail_from == "mailpoll@example.org"
    assert received.rcpt_tos == ["alice@example.com", "bob@example.com"]
    assert received.tls is (encryption != "none")
    assert received.login == (None if auth_type == "none" else LOGIN)
    parsed = message_from_bytes(received.raw, policy=policy.default)
    assert parsed["Message-ID"] == result.message_id
    assert parsed["Subject"] == "Grüße from mailpoll"
    assert [part.get_filename() for part in parsed.iter_attachments()] == ["numbers.csv"]


def test_starttls_login_happens_only_after_tls(smtp_server: StartServer) -> None:
    server = smtp_server(starttls=True, require_starttls=True, auth=(LOGIN, PASSWORD))
    send(
        server_endpoint(server, "starttls"),
        Credentials(LOGIN, PASSWORD),
        build_message(outgoing()),
        account="out",
    )
    assert server.auth_attempts == [("PLAIN", LOGIN)]
    assert server.received[0].tls is True


def test_a_server_without_starttls_is_refused_before_anything_is_sent_in_clear(
    smtp_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="mailpoll.wire")
    server = smtp_server(auth=(LOGIN, PASSWORD))  # offers AUTH in clear, no STARTTLS
    with pytest.raises(TLSError, match="does not offer STARTTLS"):
        send(
            server_endpoint(server, "starttls"),
            Credentials(LOGIN, PASSWORD),
            build_message(outgoing()),
            account="out",
            debug=True,
        )
    assert server.auth_attempts == []
    assert server.received == []
    sent = [line for line in wire_lines(caplog) if " C: " in line]
    assert len(sent) == 1
    assert sent[0].startswith("out smtp C: ehlo")


def test_a_wrong_password_is_an_authentication_error(smtp_server: StartServer) -> None:
    server = smtp_server(starttls=True, auth=(LOGIN, PASSWORD))
    with pytest.raises(AuthenticationError, match="535"):
        send(
            server_endpoint(server, "starttls"),
            Credentials(LOGIN, "wrong"),
            build_message(outgoing()),
            account="out",
        )
    assert server.received == []


def test_a_server_refusing_every_login_is_an_authentication_error(
    smtp_server: StartServer,
) -> None:
    server = smtp_server(auth=(LOGIN, PASSWORD))
    server.refuse_auth = True
    with pytest.raises(AuthenticationError):
        send(
            server_endpoint(server, "none"),
            Credentials(LOGIN, PASSWORD),
            build_message(outgoing()),
            account="out",
        )
    assert server.received == []


def test_a_permanently_refused_recipient_is_delivery_refused_with_the_servers_words(
    smtp_server: StartServer,
) -> None:
    server = smtp_server()
    server.rcpt_answers["alice@example.com"] = "550 5.1.1 alice: no such mailbox here"
    server.rcpt_answers["bob@example.com"] = "553 5.1.3 bob: mailbox name not allowed"
    with pytest.raises(DeliveryRefused, match="no such mailbox here") as caught:
        send(endpoint(server.port), None, build_message(outgoing()), account="out")
    assert caught.value.code == 550
    assert "mailbox name not allowed" in str(caught.value)
    assert server.received == []


def test_a_refusal_comes_without_control_characters(smtp_server: StartServer) -> None:
    server = smtp_server()
    server.rcpt_answers["alice@example.com"] = "550 5.1.1 caf\u00e9 \x1b[2Jgone\x07 away"
    server.rcpt_answers["bob@example.com"] = "550 5.1.1 gone"
    with pytest.raises(DeliveryRefused) as caught:
        send(endpoint(server.port), None, build_message(outgoing()), account="out")
    assert "alice@example.com: 550 5.1.1 café [2Jgone away;" in str(caught.value)


def test_a_temporarily_refused_recipient_is_delivery_deferred(smtp_server: StartServer) -> None:
    server = smtp_server()
    server.rcpt_answers["alice@example.com"] = "450 4.2.1 alice: mailbox busy, try later"
    server.rcpt_answers["bob@example.com"] = "550 5.1.1 bob: no such mailbox"
    with pytest.raises(DeliveryDeferred, match="mailbox busy, try later") as caught:
        send(endpoint(server.port), None, build_message(outgoing()), account="out")
    assert caught.value.code == 450


def test_some_refused_recipients_come_back_in_the_result_and_the_rest_get_the_mail(
    smtp_server: StartServer,
) -> None:
    server = smtp_server()
    server.rcpt_answers["alice@example.com"] = "550 5.1.1 alice: no such mailbox"
    result = send(endpoint(server.port), None, build_message(outgoing()), account="out")
    assert result.refused == {"alice@example.com": (550, "5.1.1 alice: no such mailbox")}
    assert server.received[0].rcpt_tos == ["bob@example.com"]


def test_a_silent_server_times_out_within_the_default_ten_seconds() -> None:
    with silent_server() as port:
        target = endpoint(port)
        assert target.properties.timeout == 10.0  # the outbound default: the seed's 10 s
        started = time.monotonic()
        with pytest.raises(ServerTimeoutError):
            send(target, None, build_message(outgoing()), account="out")
        elapsed = time.monotonic() - started
    assert 9.0 <= elapsed < 12.0


@pytest.mark.parametrize(
    ("encryption", "extra"), [("none", "timeout=0.5"), ("ssl", "connect_timeout=0.5")]
)
def test_the_time_out_properties_bound_the_greeting_and_the_tls_handshake(
    encryption: Encryption, extra: str
) -> None:
    with silent_server() as port:
        started = time.monotonic()
        with pytest.raises(ServerTimeoutError):
            send(
                endpoint(port, encryption, extra=extra),
                None,
                build_message(outgoing()),
                account="o",
            )
        assert time.monotonic() - started < 2.0


def test_an_imap_port_is_named_by_its_greeting_and_nothing_is_sent(
    dovecot: DovecotServer,
) -> None:
    with pytest.raises(WrongPortError, match=r'speaks IMAP, not SMTP: it greets "\* OK ') as caught:
        send(endpoint(dovecot.imap_port), None, build_message(outgoing()), account="out")
    assert caught.value.hint.startswith(f"port {dovecot.imap_port} is an IMAP port: use the SMTP")


def test_starttls_on_the_implicit_tls_port_ends_within_the_time_out(
    smtp_server: StartServer,
) -> None:
    server = smtp_server(implicit_tls=True)
    started = time.monotonic()
    with pytest.raises(ServerTimeoutError):
        send(
            server_endpoint(server, "starttls", "timeout=0.5"),
            None,
            build_message(outgoing()),
            account="o",
        )
    assert time.monotonic() - started < 2.0  # no TLS probe after the time-out of a send
    assert server.received == []


def test_a_closed_port_is_a_connect_error(closed_port: int) -> None:
    with pytest.raises(ConnectError, match="refused"):
        send(endpoint(closed_port), None, build_message(outgoing()), account="out")


@pytest.mark.parametrize("encryption", ["starttls", "ssl"])
def test_a_certificate_for_another_host_name_is_a_tls_error(
    smtp_server: StartServer, encryption: Encryption
) -> None:
    server = smtp_server(
        cert_name="wrong.example", auth=(LOGIN, PASSWORD), **ENCRYPTIONS[encryption]
    )
    with pytest.raises(TLSError, match="certificate"):
        send(
            server_endpoint(server, encryption),
            Credentials(LOGIN, PASSWORD),
            build_message(outgoing()),
            account="out",
        )
    assert server.auth_attempts == []
    assert server.received == []


@pytest.mark.parametrize("encryption", ["starttls", "ssl"])
def test_an_untrusted_certificate_is_a_tls_error(
    smtp_server: StartServer, encryption: Encryption
) -> None:
    server = smtp_server(**ENCRYPTIONS[encryption])
    with pytest.raises(TLSError, match="certificate"):
        send(endpoint(server.port, encryption), None, build_message(outgoing()), account="out")


def test_the_helo_name_comes_from_the_smtp_helo_property(smtp_server: StartServer) -> None:
    server = smtp_server()
    target = endpoint(server.port, extra="smtp_helo=mailer.example.org")
    send(target, None, build_message(outgoing()), account="out")
    send(target, None, build_message(outgoing()), helo="other.example.org", account="out")
    assert [r.helo for r in server.received] == ["mailer.example.org", "other.example.org"]


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_the_debug_trace_shows_the_dialogue_and_hides_the_credentials(
    smtp_server: StartServer, caplog: pytest.LogCaptureFixture, mechanism: str
) -> None:
    caplog.set_level(logging.DEBUG, logger="mailpoll.wire")
    excluded = tuple({"PLAIN", "LOGIN"} - {mechanism})
    server = smtp_server(auth=(LOGIN, PASSWORD), auth_exclude=excluded)
    send(
        server_endpoint(server, "none"),
        Credentials(LOGIN, PASSWORD),
        build_message(outgoing()),
        account="out",
        debug=True,
    )
    assert server.auth_attempts == [(mechanism, LOGIN)]
    wire = "\n".join(wire_lines(caplog))
    assert "out smtp C: AUTH **REDACTED**" in wire
    assert "out smtp S: 235" in wire
    assert "out smtp C: rcpt TO:<alice@example.com>" in wire
    secrets = [
        PASSWORD,
        base64.b64encode(PASSWORD.encode()).decode(),
        base64.b64encode(f"\0{LOGIN}\0{PASSWORD}".encode()).decode(),
        base64.b64encode(LOGIN.encode()).decode(),
    ]
    for secret in secrets:
        assert secret not in wire
    assert "Numbers attached" not in wire  # bodies are not traced


def test_without_debug_nothing_is_traced(
    smtp_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="mailpoll.wire")
    server = smtp_server()
    send(endpoint(server.port), None, build_message(outgoing()), account="out")
    assert wire_lines(caplog) == []


def test_xoauth2_login(smtp_server: StartServer) -> None:
    server = smtp_server(starttls=True, auth=("mailer", "s3cret"))
    server.bearer_tokens["mailer@example.com"] = "access-token-1"
    credentials = Credentials("mailer@example.com", "access-token-1", "xoauth2")
    send(server_endpoint(server, "starttls"), credentials, build_message(outgoing("a@example.com")),
         account="relay")  # fmt: skip
    assert server.received[0].login == "mailer@example.com"
    wrong = Credentials("mailer@example.com", "expired", "xoauth2")
    message = build_message(outgoing("a@example.com"))
    with pytest.raises(AuthenticationError):
        send(server_endpoint(server, "starttls"), wrong, message, account="relay")
