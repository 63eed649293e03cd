"""Test Configuration against real servers: each step, and the words a failing step gives."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.accounts import form
from shared.db.models import Account
from shared.keystore import EnvironmentKeystore
from shared.mail.probe import Step
from shared.secrets import SecretBox, new_key
from tests.integration.mail.conftest import Reply, ScriptedServer, imap_script
from tests.support import corpus
from tests.support.dovecot import DovecotServer
from tests.support.smtp_server import SmtpServer
from workers.configtest import run_config_test
from workers.credentials import CredentialSource

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 25, tzinfo=UTC)
SOURCE = CredentialSource(
    database=None, secrets=lambda: SecretBox(new_key()), keystore=EnvironmentKeystore()
)


def account(**given: Any) -> Account:
    values = form.build(None, {"name": "probe", "type": "inbound", **given}).values
    return Account(**values, created_by="t", created_at=NOW, modified_by="t", modified_at=NOW)


def run(target: Account, password: str | None = None) -> dict[str, Step]:
    steps = run_config_test(target, password=password, credentials=SOURCE, clock=lambda: NOW)
    return {step.name: step for step in steps}


def imap(dovecot: DovecotServer, user: str, **given: Any) -> Account:
    fields = {
        "host": "localhost", "port": dovecot.imap_port, "encryption": "starttls", "login": user,
        "properties": f"tls_ca_file={dovecot.ca_file}", **given,
    }  # fmt: skip
    return account(**fields)


def test_every_step_passes_and_reports_what_it_found(
    dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, password = mailbox_user
    dovecot.append(user, corpus.plain())

    steps = run(imap(dovecot, user), password)

    assert list(steps) == ["resolve", "connect", "credentials", "tls", "login", "folder", "filters"]
    assert all(step.ok for step in steps.values())
    assert "commonName=localhost" in steps["tls"].detail
    assert steps["folder"].detail.startswith("INBOX: 1 message(s), UIDVALIDITY ")
    assert steps["filters"].detail.startswith("1 of 1 message(s) pass")


def test_a_wrong_password_stops_at_login(
    dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, _ = mailbox_user
    steps = run(imap(dovecot, user), "wrong")
    assert steps["tls"].ok
    assert not steps["login"].ok
    assert steps["login"].detail.endswith(
        "login refused: [AUTHENTICATIONFAILED] Authentication failed."
    )
    assert steps["login"].hint is not None
    assert "password" in steps["login"].hint
    assert "folder" not in steps


def test_ssl_on_the_plain_port_names_the_right_port(
    dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, password = mailbox_user
    steps = run(imap(dovecot, user, encryption="ssl"), password)
    assert steps["connect"].ok
    assert not steps["tls"].ok
    assert steps["tls"].hint is not None
    assert "993 for ssl" in steps["tls"].hint


def test_a_certificate_for_another_name(wrong_name_tls: tuple[int, Any]) -> None:
    port, ca_file = wrong_name_tls
    target = account(
        host="localhost", port=port, encryption="ssl", login="u",
        properties=f"tls_ca_file={ca_file}",
    )  # fmt: skip
    steps = run(target, "pw")
    assert not steps["tls"].ok
    assert steps["tls"].hint == (
        "the certificate names another host: connect by a name on the certificate"
    )


def test_an_untrusted_certificate(dovecot: DovecotServer, mailbox_user: tuple[str, str]) -> None:
    user, password = mailbox_user
    steps = run(imap(dovecot, user, properties=""), password)
    assert not steps["tls"].ok
    assert steps["tls"].hint is not None
    assert "tls_ca_file" in steps["tls"].hint


def test_a_missing_folder_lists_the_folders_there_are(
    dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, password = mailbox_user
    dovecot.create_folder(user, "Archive")
    steps = run(imap(dovecot, user, folder="Archiv"), password)
    assert not steps["folder"].ok
    assert "Archive" in steps["folder"].detail
    assert "filters" not in steps


def test_an_unknown_host_and_a_closed_port(closed_port: int) -> None:
    steps = run(account(host="no-such-host.invalid", login="u"), "pw")
    assert not steps["resolve"].ok
    assert steps["resolve"].hint is not None
    steps = run(account(host="127.0.0.1", port=closed_port, encryption="none", login="u"), "pw")
    assert not steps["connect"].ok
    assert steps["connect"].hint is not None
    assert steps["connect"].hint.startswith(f"nothing listens on port {closed_port}")


def test_pop3_over_ssl(dovecot: DovecotServer, mailbox_user: tuple[str, str]) -> None:
    user, password = mailbox_user
    target = imap(dovecot, user, protocol="pop3", encryption="ssl", port=dovecot.pop3s_port)
    steps = run(target, password)
    assert all(step.ok for step in steps.values()), steps
    assert steps["folder"].detail == "INBOX: 0 message(s)"


def outbound(server: SmtpServer, **given: Any) -> Account:
    fields = {
        "type": "outbound", "host": "localhost", "port": server.port, "auth_type": "none",
        "test_to": "bob@example.com", "properties": f"tls_ca_file={server.ca_file}", **given,
    }  # fmt: skip
    return account(**fields)


def send_test(target: Account, sender: str | None = "ops@example.com") -> dict[str, Step]:
    steps = run_config_test(
        target, password=None, credentials=SOURCE, clock=lambda: NOW, sender=sender
    )
    return {step.name: step for step in steps}


def assert_implicit_tls_named(steps: dict[str, Step], port: int, encryption: str) -> None:
    assert not steps["connect"].ok
    assert "this port speaks TLS at once (implicit TLS)" in steps["connect"].detail
    assert f"so encryption {encryption} cannot be used on it" in steps["connect"].detail
    assert steps["connect"].hint is not None
    assert steps["connect"].hint.startswith(f"use encryption ssl for port {port}, or the plain")
    assert "tls" not in steps  # never "tls ok" for a STARTTLS that was not done


@pytest.mark.parametrize("encryption", ["starttls", "none"])
@pytest.mark.parametrize("protocol", ["imap", "pop3"])
def test_a_plain_session_on_the_implicit_tls_port_is_named_not_blamed_on_a_firewall(
    dovecot: DovecotServer, mailbox_user: tuple[str, str], protocol: str, encryption: str
) -> None:
    user, password = mailbox_user
    port = dovecot.imaps_port if protocol == "imap" else dovecot.pop3s_port
    target = imap(dovecot, user, protocol=protocol, encryption=encryption, port=port)
    assert_implicit_tls_named(run(target, password), port, encryption)


def test_smtp_starttls_on_the_implicit_tls_port_is_named() -> None:
    with SmtpServer(implicit_tls=True) as server:
        steps = send_test(outbound(server, encryption="starttls"))
    assert_implicit_tls_named(steps, server.port, "starttls")
    assert server.received == []


def test_smtp_starttls_reports_the_certificate_only_once_tls_is_up() -> None:
    with SmtpServer(starttls=True) as server:
        steps = send_test(outbound(server, encryption="starttls"))
    assert all(step.ok for step in steps.values()), steps
    assert list(steps) == ["resolve", "connect", "message", "tls", "send"]
    assert steps["tls"].detail.startswith("STARTTLS, TLS")
    assert "commonName=localhost" in steps["tls"].detail


def test_an_unusable_sender_fails_before_connecting_and_names_the_setting() -> None:
    with SmtpServer(starttls=True) as server:
        steps = send_test(outbound(server, encryption="starttls"), sender="ops")
    assert list(steps) == ["resolve", "connect", "message"]  # no "tls ok" before it
    assert steps["message"].detail == "sender: 'ops' is not one e-mail address"
    assert steps["message"].hint is not None
    assert "system_email_address" in steps["message"].hint


def test_a_session_that_fails_before_starttls_fails_the_tls_step(
    scripted_server: Callable[[bytes, Reply], ScriptedServer],
) -> None:
    # The greeting is IMAP's, then CAPABILITY goes unanswered: STARTTLS is never reached.
    server = scripted_server(b"* OK fake IMAP ready\r\n", imap_script({}, b""))
    target = account(
        host="127.0.0.1", port=server.port, encryption="starttls", login="u",
        properties="timeout=0.5",
    )  # fmt: skip
    steps = run(target, "pw")
    assert steps["connect"].ok
    assert not steps["tls"].ok
    assert "no answer within the time-out" in steps["tls"].detail
    assert "login" not in steps


@pytest.mark.parametrize(
    ("protocol", "server_port", "speaks"),
    [("imap", "pop3_port", "POP3"), ("pop3", "imap_port", "IMAP")],
)
@pytest.mark.parametrize("encryption", ["none", "starttls"])
def test_a_port_of_the_other_protocol_is_named_with_its_greeting(
    dovecot: DovecotServer,
    mailbox_user: tuple[str, str],
    protocol: str,
    server_port: str,
    speaks: str,
    encryption: str,
) -> None:
    user, password = mailbox_user
    port = getattr(dovecot, server_port)
    target = imap(dovecot, user, protocol=protocol, encryption=encryption, port=port)
    steps = run(target, password)
    assert not steps["connect"].ok
    greets = "+OK Dovecot" if speaks == "POP3" else "* OK [CAPABILITY IMAP4rev1"
    assert (
        f'speaks {speaks}, not {protocol.upper()}: it greets "{greets}' in steps["connect"].detail
    )
    assert "None" not in steps["connect"].detail
    assert steps["connect"].hint is not None
    assert steps["connect"].hint.startswith(
        f"port {port} is {'an' if speaks == 'IMAP' else 'a'} {speaks} port: "
        f"use protocol {speaks.lower()} with it, or the {protocol.upper()} port"
    )
    assert "tls" not in steps


def test_imap_over_ssl_on_the_pop3s_port_is_named_at_login(
    dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, password = mailbox_user
    steps = run(imap(dovecot, user, encryption="ssl", port=dovecot.pop3s_port), password)
    assert steps["tls"].ok  # TLS itself worked: the protocol is wrong
    assert not steps["login"].ok
    assert 'speaks POP3, not IMAP: it greets "+OK Dovecot' in steps["login"].detail


def test_smtp_on_an_imap_port_and_imap_on_an_smtp_port(
    dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    with SmtpServer() as server:
        steps = send_test(outbound(server, encryption="none", port=dovecot.imap_port))
        assert not steps["connect"].ok
        assert "speaks IMAP, not SMTP" in steps["connect"].detail
        assert steps["connect"].hint is not None
        assert steps["connect"].hint.startswith(f"port {dovecot.imap_port} is an IMAP port: use")
        user, password = mailbox_user
        steps = run(imap(dovecot, user, encryption="none", port=server.port), password)
    assert not steps["connect"].ok
    assert 'speaks SMTP, not IMAP: it greets "220 ' in steps["connect"].detail


def move_steps(
    dovecot: DovecotServer, user: tuple[str, str], folders: list[str], target: str
) -> dict[str, Step]:
    for folder in folders:
        dovecot.create_folder(user[0], folder)
    target_account = imap(dovecot, user[0], on_email_received="move", move_to_folder=target)
    return run(target_account, user[1])


def test_an_existing_move_folder_passes(
    dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    steps = move_steps(dovecot, mailbox_user, ["Archive"], "Archive")
    assert steps["move folder"].ok
    assert steps["move folder"].detail == "Archive exists: received mail is moved there"
    assert steps["filters"].ok


def test_a_move_folder_kept_under_inbox_is_suggested(
    dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    steps = move_steps(dovecot, mailbox_user, ["INBOX.Archive"], "Archive")
    step = steps["move folder"]
    assert not step.ok
    assert step.detail.startswith("move_to_folder Archive: no such folder (the server has: ")
    assert "INBOX.Archive" in step.detail
    assert step.hint is not None
    assert step.hint.startswith("did you mean INBOX.Archive? set move_to_folder to a name")
    assert "(Cyrus: INBOX.Archive, not Archive)" in step.hint
    assert "filters" not in steps


def test_a_move_folder_in_another_case_is_suggested(
    dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    steps = move_steps(dovecot, mailbox_user, ["Archive"], "archive")
    assert not steps["move folder"].ok
    assert steps["move folder"].hint is not None
    assert steps["move folder"].hint.startswith("did you mean Archive? ")


def test_a_move_folder_with_no_likely_name_lists_the_folders(
    dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    steps = move_steps(dovecot, mailbox_user, ["Archive", "Done"], "Processed")
    step = steps["move folder"]
    assert not step.ok
    assert "Archive" in step.detail
    assert "Done" in step.detail
    assert step.hint is not None
    assert step.hint.startswith("create the folder, or set move_to_folder")


def test_no_move_folder_step_unless_mail_is_moved(
    dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, password = mailbox_user
    steps = run(imap(dovecot, user, on_email_received="mark_read"), password)
    assert "move folder" not in steps
    assert steps["filters"].ok
