"""The POP3 client against a real Dovecot: encryption, failures, UIDLs, fetch and delete."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pytest

from shared.errors import (
    AuthenticationError,
    ConfigError,
    ConnectError,
    ServerTimeoutError,
    TLSError,
)
from shared.mail.client import Credentials, Encryption, Endpoint, Rejected, RemoteMessage
from shared.mail.connect import open_mailbox
from shared.mail.greeting import WrongPortError
from shared.mail.pop3 import Pop3Mailbox
from tests.integration.mail.conftest import Reply, ScriptedServer, endpoint
from tests.support.dovecot import DovecotServer

pytestmark = pytest.mark.integration


def message(n: int, body: bytes = b"hello") -> bytes:
    return (
        b"From: a@example.org\r\nSubject: message %d\r\nMessage-ID: <%d@example.org>\r\n"
        b"\r\n%s %d\r\n.leading dot\r\n" % (n, n, body, n)
    )


def pop3_endpoint(
    dovecot: DovecotServer, encryption: Encryption = "none", extra: str = ""
) -> Endpoint:
    port = dovecot.pop3s_port if encryption == "ssl" else dovecot.pop3_port
    return endpoint(port, encryption, f"tls_ca_file={dovecot.ca_file}\n{extra}")


def connect(
    dovecot: DovecotServer,
    user: tuple[str, str],
    extra: str = "",
    debug: bool = False,
) -> Pop3Mailbox:
    return Pop3Mailbox(
        pop3_endpoint(dovecot, "none", extra), Credentials(*user), account="acct", debug=debug
    )


@pytest.mark.parametrize("encryption", ["none", "starttls", "ssl"])
def test_each_encryption_logs_in_and_counts_the_inbox(
    dovecot: DovecotServer, mailbox_user: tuple[str, str], encryption: Encryption
) -> None:
    dovecot.append(mailbox_user[0], message(1))
    with open_mailbox(
        "pop3", pop3_endpoint(dovecot, encryption), Credentials(*mailbox_user), account="acct"
    ) as box:
        assert box.folders() == ["INBOX"]
        assert box.select("INBOX").exists == 1


@pytest.mark.parametrize("encryption", ["starttls", "ssl"])
def test_an_untrusted_certificate_is_a_tls_error(
    dovecot: DovecotServer, mailbox_user: tuple[str, str], encryption: Encryption
) -> None:
    port = dovecot.pop3s_port if encryption == "ssl" else dovecot.pop3_port
    with pytest.raises(TLSError, match="certificate"):
        Pop3Mailbox(endpoint(port, encryption), Credentials(*mailbox_user), account="acct")


def test_a_server_without_stls_is_refused_before_login(
    scripted_server: Callable[[bytes, Reply], ScriptedServer],
) -> None:
    def reply(line: str) -> bytes | None:
        if line.upper() == "CAPA":
            return b"+OK\r\nUSER\r\nUIDL\r\n.\r\n"
        if line.upper() == "QUIT":
            return None
        return b"-ERR no\r\n"

    server = scripted_server(b"+OK fake POP3 ready\r\n", reply)
    with pytest.raises(TLSError, match="STLS"):
        Pop3Mailbox(endpoint(server.port, "starttls"), Credentials("u", "pw"), account="acct")
    assert server.received == ["CAPA"]


def test_a_wrong_password_is_an_authentication_error(
    dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    with pytest.raises(AuthenticationError):
        connect(dovecot, (mailbox_user[0], "wrong"))


def test_a_refused_login_gives_the_servers_words_without_control_characters(
    scripted_server: Callable[[bytes, Reply], ScriptedServer],
) -> None:
    def reply(line: str) -> bytes | None:
        if line.upper().startswith("USER"):
            return b"+OK\r\n"
        if line.upper().startswith("PASS"):
            return b"-ERR [AUTH] caf\xc3\xa9 \x1b[31mno\x00 entry\xff\r\n"
        return None

    server = scripted_server(b"+OK fake POP3 ready\r\n", reply)
    with pytest.raises(AuthenticationError) as caught:
        Pop3Mailbox(endpoint(server.port), Credentials("u", "pw"), account="acct")
    assert str(caught.value).endswith("login refused: -ERR [AUTH] café [31mno entry\ufffd")


@pytest.mark.parametrize("encryption", ["none", "ssl"])
def test_an_imap_port_is_named_by_its_greeting(
    dovecot: DovecotServer, mailbox_user: tuple[str, str], encryption: Encryption
) -> None:
    port = dovecot.imaps_port if encryption == "ssl" else dovecot.imap_port
    point = endpoint(port, encryption, f"tls_ca_file={dovecot.ca_file}")
    with pytest.raises(WrongPortError, match=r'speaks IMAP, not POP3: it greets "\* OK ') as caught:
        Pop3Mailbox(point, Credentials(*mailbox_user), account="acct")
    assert caught.value.hint.startswith(f"port {port} is an IMAP port: use protocol imap")


def test_stls_on_the_pop3s_port_is_named_after_the_time_out(
    dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    point = endpoint(dovecot.pop3s_port, "starttls", f"tls_ca_file={dovecot.ca_file}\ntimeout=0.5")
    with pytest.raises(WrongPortError, match=r"speaks TLS at once \(implicit TLS\)"):
        Pop3Mailbox(point, Credentials(*mailbox_user), account="acct")


def test_a_closed_port_is_a_connect_error(closed_port: int) -> None:
    with pytest.raises(ConnectError, match="refused"):
        Pop3Mailbox(endpoint(closed_port), Credentials("u", "p"), account="acct")


@pytest.mark.parametrize("encryption", ["none", "ssl"])
def test_a_server_that_never_answers_times_out(silent_port: int, encryption: Encryption) -> None:
    point = endpoint(silent_port, encryption, "connect_timeout=0.3\ntimeout=0.3")
    started = time.monotonic()
    with pytest.raises(ServerTimeoutError):
        Pop3Mailbox(point, Credentials("u", "p"), account="acct")
    assert time.monotonic() - started < 2


def test_fetch_gives_the_exact_bytes_and_uidls_are_stable_across_sessions(
    dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    raws = [message(n, b"caf\xc3\xa9 " + b"y" * 5000) for n in range(3)]
    for raw in raws:
        dovecot.append(mailbox_user[0], raw)
    with connect(dovecot, mailbox_user) as box:
        refs = box.list_new("INBOX")
        fetched = list(box.fetch(refs))
    assert [item.raw for item in fetched if isinstance(item, RemoteMessage)] == raws
    assert [ref.size for ref in refs] == [len(raw) for raw in raws]
    with connect(dovecot, mailbox_user) as box:
        assert [ref.uidl for ref in box.list_new("INBOX")] == [ref.uidl for ref in refs]
    assert len({ref.uidl for ref in refs}) == 3


def test_delete_removes_only_the_given_messages_when_the_session_ends(
    dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user = mailbox_user[0]
    for n in range(3):
        dovecot.append(user, message(n))
    with connect(dovecot, mailbox_user) as box:
        refs = box.list_new("INBOX")
        box.delete([refs[1]])
        assert len(dovecot.messages(user)) == 3  # not before QUIT
    assert list(dovecot.messages(user).values()) == [message(0), message(2)]
    with connect(dovecot, mailbox_user) as box:
        assert [ref.uidl for ref in box.list_new("INBOX")] == [refs[0].uidl, refs[2].uidl]


def test_a_message_over_the_size_limit_is_rejected_alone(
    dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user = mailbox_user[0]
    dovecot.append(user, message(1))
    dovecot.append(user, message(2, b"x" * (1024 * 1024 + 10)))
    dovecot.append(user, message(3))
    with connect(dovecot, mailbox_user, extra="max_message_mb=1") as box:
        refs = box.list_new("INBOX")
        items = list(box.fetch(refs))
    assert [type(item).__name__ for item in items] == ["RemoteMessage", "Rejected", "RemoteMessage"]
    assert isinstance(items[1], Rejected)
    assert items[1].ref == refs[1]


def test_a_long_line_is_fetched_whole(
    dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    raw = message(1, b"z" * 100_000)  # poplib alone stops at 2048 bytes a line
    dovecot.append(mailbox_user[0], raw)
    with connect(dovecot, mailbox_user) as box:
        items = list(box.fetch(box.list_new("INBOX")))
    assert [item.raw for item in items if isinstance(item, RemoteMessage)] == [raw]


def test_folders_mark_read_and_move_are_configuration_errors(
    dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    with connect(dovecot, mailbox_user) as box:
        with pytest.raises(ConfigError, match="folder"):
            box.list_new("Archive")
        with pytest.raises(ConfigError, match="on_email_received"):
            box.mark_read([])
        with pytest.raises(ConfigError, match="on_email_received"):
            box.move([], "Archive")


@pytest.mark.parametrize("debug", [True, False])
def test_the_wire_trace_follows_the_debug_flag_and_hides_credentials(
    dovecot: DovecotServer,
    mailbox_user: tuple[str, str],
    caplog: pytest.LogCaptureFixture,
    debug: bool,
) -> None:
    caplog.set_level(logging.DEBUG, logger="mailpoll.wire")
    dovecot.append(mailbox_user[0], message(1))
    with connect(dovecot, mailbox_user, debug=debug) as box:
        list(box.fetch(box.list_new("INBOX")))
    wire = [r.getMessage() for r in caplog.records if r.name == "mailpoll.wire"]
    if not debug:
        assert wire == []
        return
    assert "acct pop3 C: PASS **REDACTED**" in wire
    assert "acct pop3 C: UIDL" in wire
    assert any(line.startswith("acct pop3 S: +OK") for line in wire)
    assert mailbox_user[1] not in "\n".join(wire)
    assert "hello" not in "\n".join(wire)  # bodies are not traced


def test_a_server_that_stops_answering_mid_session_times_out(
    scripted_server: Callable[[bytes, Reply], ScriptedServer],
) -> None:
    def reply(line: str) -> bytes | None:
        if line.split()[0].upper() in {"USER", "PASS"}:
            return b"+OK\r\n"
        return b""  # UIDL and anything after: silence

    server = scripted_server(b"+OK fake POP3 ready\r\n", reply)
    point = endpoint(server.port, "none", "timeout=0.3")
    with Pop3Mailbox(point, Credentials("u", "p"), account="acct") as box:
        started = time.monotonic()
        with pytest.raises(ServerTimeoutError):
            box.list_new("INBOX")
    assert time.monotonic() - started < 2
