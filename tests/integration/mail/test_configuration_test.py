"""Test Configuration against real servers: each step, and the words a failing step gives."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from shared.accounts import form
from shared.db.models import Account
from shared.keystore import EnvironmentKeystore
from shared.mail.probe import Step
from shared.secrets import SecretBox, new_key
from tests.support import corpus
from tests.support.dovecot import DovecotServer
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
