"""The IMAP client against a real Dovecot: encryption, failures, fetching and actions."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pytest

from shared.errors import (
    AuthenticationError,
    ConnectError,
    FolderError,
    ServerTimeoutError,
    TLSError,
)
from shared.mail import fetch_reader
from shared.mail.client import Credentials, Encryption, Endpoint, Rejected, RemoteMessage
from shared.mail.connect import open_mailbox
from shared.mail.fetch_reader import uid_fetch
from shared.mail.greeting import WrongPortError
from shared.mail.imap import ImapMailbox
from tests.integration.mail.conftest import Reply, ScriptedServer, endpoint, imap_script
from tests.support.dovecot import DovecotServer

pytestmark = pytest.mark.integration
LOGGED_IN: dict[str, bytes | None] = {
    "CAPABILITY": b"* CAPABILITY IMAP4rev1\r\n{tag} OK done\r\n",
    "LOGIN": b"{tag} OK logged in\r\n",
}


def message(n: int, body: bytes = b"hello") -> bytes:
    return (
        b"From: a@example.org\r\nTo: b@example.org\r\nSubject: message %d\r\n"
        b"Message-ID: <%d@example.org>\r\n\r\n%s %d\r\n" % (n, n, body, n)
    )


def imap_endpoint(
    dovecot: DovecotServer, encryption: Encryption = "none", extra: str = ""
) -> Endpoint:
    port = dovecot.imaps_port if encryption == "ssl" else dovecot.imap_port
    return endpoint(port, encryption, f"tls_ca_file={dovecot.ca_file}\n{extra}")


def connect(
    dovecot: DovecotServer,
    user: tuple[str, str],
    encryption: Encryption = "none",
    extra: str = "",
    debug: bool = False,
) -> ImapMailbox:
    return ImapMailbox(
        imap_endpoint(dovecot, encryption, extra), Credentials(*user), account="acct", debug=debug
    )


@pytest.mark.parametrize("encryption", ["none", "starttls", "ssl"])
def test_each_encryption_logs_in_and_reads_the_inbox(
    dovecot: DovecotServer, mailbox_user: tuple[str, str], encryption: Encryption
) -> None:
    dovecot.append(mailbox_user[0], message(1))
    with open_mailbox(
        "imap",
        imap_endpoint(dovecot, encryption),
        Credentials(*mailbox_user),
        account="acct",
    ) as box:
        assert "INBOX" in box.folders()
        assert box.select("INBOX").exists == 1


@pytest.mark.parametrize("encryption", ["starttls", "ssl"])
def test_an_untrusted_certificate_is_a_tls_error(
    dovecot: DovecotServer, mailbox_user: tuple[str, str], encryption: Encryption
) -> None:
    port = dovecot.imaps_port if encryption == "ssl" else dovecot.imap_port
    with pytest.raises(TLSError, match="certificate"):
        ImapMailbox(endpoint(port, encryption), Credentials(*mailbox_user), account="acct")


def test_tls_verify_false_accepts_an_untrusted_certificate(
    dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    point = endpoint(dovecot.imaps_port, "ssl", "tls_verify=false")
    with ImapMailbox(point, Credentials(*mailbox_user), account="acct") as box:
        assert box.select("INBOX").exists == 0


def test_a_certificate_for_another_name_is_a_tls_error(
    wrong_name_tls: tuple[int, object],
) -> None:
    port, ca_file = wrong_name_tls
    point = endpoint(port, "ssl", f"tls_ca_file={ca_file}\nconnect_timeout=5")
    with pytest.raises(TLSError, match=r"(?i)hostname|IP address mismatch"):
        ImapMailbox(point, Credentials("u", "p"), account="acct")


def test_a_server_without_starttls_is_refused_before_login(
    scripted_server: Callable[[bytes, Reply], ScriptedServer],
) -> None:
    answers: dict[str, bytes | None] = {
        "CAPABILITY": b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n{tag} OK done\r\n",
        "LOGOUT": b"* BYE bye\r\n{tag} OK done\r\n",
    }
    server = scripted_server(
        b"* OK fake IMAP ready\r\n", imap_script(answers, b"{tag} NO not here\r\n")
    )
    with pytest.raises(TLSError, match="STARTTLS"):
        ImapMailbox(endpoint(server.port, "starttls"), Credentials("u", "pw"), account="acct")
    assert not [line for line in server.received if "LOGIN" in line.upper()]
    assert not [line for line in server.received if "pw" in line]


def test_a_wrong_password_is_an_authentication_error(
    dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    with pytest.raises(AuthenticationError) as caught:
        connect(dovecot, (mailbox_user[0], "wrong"))
    # The server's words, not imaplib's bytes repr of them.
    assert str(caught.value).endswith(
        "login refused: [AUTHENTICATIONFAILED] Authentication failed."
    )


def test_a_bad_answer_is_decoded_and_stripped_of_control_characters(
    scripted_server: Callable[[bytes, Reply], ScriptedServer],
) -> None:
    answers = {**LOGGED_IN, "LOGOUT": None}
    bad = b"{tag} BAD caf\xc3\xa9 \x1b[2J\x07 not\xff understood\r\n"
    server = scripted_server(b"* OK fake IMAP ready\r\n", imap_script(answers, bad))
    box = ImapMailbox(endpoint(server.port), Credentials("u", "p"), account="acct")
    with box, pytest.raises(FolderError) as caught:
        box.select("INBOX")
    text = str(caught.value)
    assert text.endswith("command error: BAD café [2J not\ufffd understood")
    assert "b'" not in text


def test_a_missing_folder_is_a_folder_error(
    dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    with connect(dovecot, mailbox_user) as box, pytest.raises(FolderError, match="Nope"):
        box.list_new("Nope")


@pytest.mark.parametrize("encryption", ["none", "ssl"])
def test_a_pop3_port_is_named_by_its_greeting(
    dovecot: DovecotServer, mailbox_user: tuple[str, str], encryption: Encryption
) -> None:
    port = dovecot.pop3s_port if encryption == "ssl" else dovecot.pop3_port
    point = endpoint(port, encryption, f"tls_ca_file={dovecot.ca_file}")
    with pytest.raises(
        WrongPortError, match='speaks POP3, not IMAP: it greets "\\+OK Dovecot'
    ) as caught:
        ImapMailbox(point, Credentials(*mailbox_user), account="acct")
    assert caught.value.hint.startswith(f"port {port} is a POP3 port: use protocol pop3")


def test_starttls_on_the_imaps_port_is_named_after_the_time_out(
    dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    point = endpoint(dovecot.imaps_port, "starttls", f"tls_ca_file={dovecot.ca_file}\ntimeout=0.5")
    with pytest.raises(WrongPortError, match=r"speaks TLS at once \(implicit TLS\)"):
        ImapMailbox(point, Credentials(*mailbox_user), account="acct")


def test_a_closed_port_is_a_connect_error(closed_port: int) -> None:
    with pytest.raises(ConnectError, match="refused"):
        ImapMailbox(endpoint(closed_port), Credentials("u", "p"), account="acct")


@pytest.mark.parametrize("encryption", ["none", "ssl"])
def test_a_server_that_never_answers_times_out(silent_port: int, encryption: Encryption) -> None:
    point = endpoint(silent_port, encryption, "connect_timeout=0.3\ntimeout=0.3")
    started = time.monotonic()
    with pytest.raises(ServerTimeoutError):
        ImapMailbox(point, Credentials("u", "p"), account="acct")
    assert time.monotonic() - started < 2


def test_list_new_and_fetch_give_the_exact_bytes_without_setting_seen(
    dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user = mailbox_user[0]
    raws = [message(n, b"caf\xc3\xa9 \xff 8-bit") for n in range(5)]
    uids = [dovecot.append(user, raw) for raw in raws]
    with connect(dovecot, mailbox_user, extra="fetch_chunk=2") as box:
        refs = box.list_new("INBOX", uids[1])
        assert [ref.uid for ref in refs] == uids[2:]
        assert all(ref.size == len(raws[2]) and ref.internal_date for ref in refs)
        fetched = list(box.fetch(refs))
    assert all(isinstance(item, RemoteMessage) for item in fetched)
    assert [item.raw for item in fetched if isinstance(item, RemoteMessage)] == raws[2:]
    assert all(b"\\Seen" not in flags for flags in dovecot.flags(user).values())


def test_dovecots_fetch_answers_take_the_fast_reader_and_read_as_imapclient_reads_them(
    dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user = mailbox_user[0]
    uids = [dovecot.append(user, message(n)) for n in range(3)]
    with connect(dovecot, mailbox_user) as box:
        box.select("INBOX")
        for items in ([b"INTERNALDATE", b"RFC822.SIZE"], [b"BODY.PEEK[]"], [b"RFC822.SIZE"]):
            imap = box._client._imap
            typ, data = imap.uid(
                "FETCH", ",".join(map(str, uids)), f"({' '.join(i.decode() for i in items)})"
            )
            assert typ == "OK"
            assert fetch_reader._read_simple(data, False) is not None, data  # not the slow path
            assert uid_fetch(box._client, uids, items) == box._client.fetch(uids, items)


def test_list_new_after_the_highest_uid_is_empty(
    dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    uid = dovecot.append(mailbox_user[0], message(1))
    with connect(dovecot, mailbox_user) as box:
        assert box.list_new("INBOX", uid) == []
        assert box.list_new("INBOX", uid + 10) == []
        assert [ref.uid for ref in box.list_new("INBOX", 0, limit=1)] == [uid]


def test_a_message_over_the_size_limit_is_rejected_alone(
    dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user = mailbox_user[0]
    small = dovecot.append(user, message(1))
    big = dovecot.append(user, message(2, b"x" * (1024 * 1024 + 10)))
    after = dovecot.append(user, message(3))
    with connect(dovecot, mailbox_user, extra="max_message_mb=1") as box:
        items = list(box.fetch(box.list_new("INBOX")))
    assert [type(item).__name__ for item in items] == ["RemoteMessage", "Rejected", "RemoteMessage"]
    rejected = items[1]
    assert isinstance(rejected, Rejected)
    assert rejected.ref.uid == big
    assert [item.uid for item in items if isinstance(item, RemoteMessage)] == [small, after]


def test_mark_read_flags_only_the_given_messages(
    dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user = mailbox_user[0]
    first, second = dovecot.append(user, message(1)), dovecot.append(user, message(2))
    with connect(dovecot, mailbox_user) as box:
        box.mark_read([ref for ref in box.list_new("INBOX") if ref.uid == first])
    flags = dovecot.flags(user)
    assert b"\\Seen" in flags[first]
    assert b"\\Seen" not in flags[second]


def test_move_moves_only_the_given_messages(
    dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user = mailbox_user[0]
    dovecot.create_folder(user, "Done")
    first, second = dovecot.append(user, message(1)), dovecot.append(user, message(2))
    with connect(dovecot, mailbox_user) as box:
        refs = box.list_new("INBOX")
        box.move([refs[0]], "Done")
        with pytest.raises(FolderError, match="Missing"):
            box.move([refs[1]], "Missing")
    assert list(dovecot.messages(user)) == [second]
    assert list(dovecot.messages(user, "Done").values()) == [message(1)]
    assert first not in dovecot.messages(user)


def test_delete_expunges_only_the_given_uids(
    dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user = mailbox_user[0]
    flagged = dovecot.append(user, message(1), flags=[b"\\Deleted"])  # someone else's business
    gone, kept = dovecot.append(user, message(2)), dovecot.append(user, message(3))
    with connect(dovecot, mailbox_user) as box:
        box.delete([ref for ref in box.list_new("INBOX") if ref.uid == gone])
    assert sorted(dovecot.messages(user)) == [flagged, kept]


def test_refs_from_an_old_uidvalidity_are_refused(
    dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user = mailbox_user[0]
    uid = dovecot.append(user, message(1))
    with connect(dovecot, mailbox_user) as box:
        refs = box.list_new("INBOX")
    dovecot.reset_uidvalidity(user)
    with connect(dovecot, mailbox_user) as box, pytest.raises(FolderError, match="UIDVALIDITY"):
        box.delete(refs)
    assert list(dovecot.messages(user)) == [uid]


def test_a_refused_login_is_traced_with_the_credentials_redacted(
    dovecot: DovecotServer, mailbox_user: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="mailpoll.wire")
    with pytest.raises(AuthenticationError):
        connect(dovecot, (mailbox_user[0], "s3cr3t-pw"), debug=True)
    assert "LOGIN **REDACTED**" in caplog.text
    assert "s3cr3t-pw" not in caplog.text
    assert mailbox_user[0] not in caplog.text


@pytest.mark.parametrize("debug", [True, False])
def test_the_wire_trace_follows_the_debug_flag(
    dovecot: DovecotServer,
    mailbox_user: tuple[str, str],
    caplog: pytest.LogCaptureFixture,
    debug: bool,
) -> None:
    caplog.set_level(logging.DEBUG, logger="mailpoll.wire")
    with connect(dovecot, mailbox_user, debug=debug) as box:
        box.list_new("INBOX")
    wire = [r.getMessage() for r in caplog.records if r.name == "mailpoll.wire"]
    if not debug:
        assert wire == []
        return
    assert any("LOGIN **REDACTED**" in line for line in wire)
    assert any("UID SEARCH" in line for line in wire)
    assert all(line.startswith("acct imap ") for line in wire)
    assert mailbox_user[1] not in "\n".join(wire)


def test_a_server_that_stops_answering_mid_session_times_out(
    scripted_server: Callable[[bytes, Reply], ScriptedServer],
) -> None:
    # SELECT and anything after: silence
    server = scripted_server(b"* OK fake IMAP ready\r\n", imap_script(LOGGED_IN, b""))
    point = endpoint(server.port, "none", "timeout=0.3")
    with ImapMailbox(point, Credentials("u", "p"), account="acct") as box:
        started = time.monotonic()
        with pytest.raises(ServerTimeoutError):
            box.list_new("INBOX")
    assert time.monotonic() - started < 2
