"""Sending through the one outbound account, against a real SMTP server (aiosmtpd)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest

from mailpoll.app import App
from mailpoll.cli.main import main
from mailpoll.runtime import Runtime
from shared.accounts.service import AccountService
from shared.db.database import Database
from shared.errors import ConfigError, TransientError
from shared.keystore import EnvironmentKeystore
from shared.mail.smtp import DeliveryRefused
from shared.secrets import SecretBox, new_key
from shared.settings import Settings
from shared.system_settings import SystemSettings
from tests.support.processes import wait_until
from tests.support.smtp_server import SmtpServer
from workers.configtest import run_config_test
from workers.credentials import CredentialSource
from workers.poll import poll_account
from workers.send import SendDeps, SendRequest, send_mail

pytestmark = pytest.mark.integration


class Outbound:
    def __init__(self, tmp_path: Path) -> None:
        self.database = Database(f"sqlite:///{tmp_path / 'mailpoll.db'}")
        self.database.upgrade()
        self.key = new_key()
        self.box = SecretBox(self.key)
        self.published: list[dict[str, Any]] = []
        self.settings = Settings(data_dir=tmp_path)
        self.deps = SendDeps(
            database=self.database, settings=self.settings,
            credentials=CredentialSource(
                database=self.database, secrets=lambda: self.box, keystore=EnvironmentKeystore()
            ),
            publish=self.published.extend,
            clock=lambda: datetime.now(UTC),
        )  # fmt: skip

    def add(self, server: SmtpServer, **fields: Any) -> None:
        self.set("system_email_address", "mailpoll@example.com")
        given = {
            "name": "relay", "type": "outbound", "host": "localhost", "port": server.port,
            "encryption": "starttls", "auth_type": "local", "login": "mailer",
            "password": "s3cret", "properties": f"tls_ca_file={server.ca_file}",
            "test_to": "ops@example.com", **fields,
        }  # fmt: skip
        with self.database.session() as session:
            AccountService(session, secrets=lambda: self.box, actor="t").add(given)

    def set(self, key: str, value: str) -> None:
        with self.database.session() as session:
            SystemSettings(session, self.settings, actor="t").set(key, value)


@pytest.fixture
def outbound(tmp_path: Path) -> Iterator[Outbound]:
    outbound = Outbound(tmp_path)
    yield outbound
    outbound.database.dispose()


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    with SmtpServer(starttls=True, require_starttls=True, auth=("mailer", "s3cret")) as running:
        yield running


def test_mail_goes_out_from_the_system_address_and_is_announced(
    outbound: Outbound, server: SmtpServer, tmp_path: Path
) -> None:
    outbound.add(server)
    attachment = tmp_path / "report.csv"
    attachment.write_text("a,b\n1,2\n")
    request = SendRequest(
        to=["bob@example.com"],
        subject="Report",
        body="See attached.",
        attachments=[str(attachment)],
    )

    result = send_mail(request, outbound.deps)

    [received] = server.received
    assert (received.mail_from, received.rcpt_tos) == ("mailpoll@example.com", ["bob@example.com"])
    assert (received.tls, received.login) == (True, "mailer")
    message = message_from_bytes(received.raw)
    assert message["Message-ID"] == result.message_id
    assert [part.get_filename() for part in message.walk() if part.get_filename()] == ["report.csv"]
    [event] = outbound.published
    assert event["type"] == "mailpoll.message.sent"
    assert event["data"]["message_id"] == result.message_id


def test_no_enabled_outbound_account_is_a_clear_error(outbound: Outbound) -> None:
    with pytest.raises(ConfigError, match="none is enabled: add one with"):
        send_mail(SendRequest(to=["a@example.com"], subject="s", body="b"), outbound.deps)


def test_a_5xx_is_final_and_announced_a_4xx_is_left_to_retry(
    outbound: Outbound, server: SmtpServer
) -> None:
    outbound.add(server)
    server.rcpt_answers["gone@example.com"] = "550 5.1.1 no such user"
    server.rcpt_answers["later@example.com"] = "451 4.3.0 try again later"

    with pytest.raises(DeliveryRefused, match="no such user"):
        send_mail(SendRequest(to=["gone@example.com"], subject="s", body="b"), outbound.deps)
    with pytest.raises(TransientError, match="try again later"):
        send_mail(SendRequest(to=["later@example.com"], subject="s", body="b"), outbound.deps)

    assert [e["type"] for e in outbound.published] == ["mailpoll.message.failed"]
    assert outbound.published[0]["data"]["permanent"] is True


def test_header_injection_through_the_subject_is_refused(
    outbound: Outbound, server: SmtpServer
) -> None:
    outbound.add(server)
    request = SendRequest(to=["a@example.com"], subject="hi\r\nBcc: all@example.com", body="b")
    with pytest.raises(ConfigError, match=r"^subject: "):
        send_mail(request, outbound.deps)
    assert server.received == []


def test_configuration_test_of_an_outbound_account_sends_to_test_to(
    outbound: Outbound, server: SmtpServer
) -> None:
    outbound.add(server)
    with outbound.database.session() as session:
        account = AccountService(session, secrets=lambda: outbound.box, actor="t").get("relay")
    steps = run_config_test(
        account, password="s3cret", credentials=outbound.deps.credentials,
        clock=lambda: datetime.now(UTC), sender="mailpoll@example.com",
    )  # fmt: skip
    names = ["resolve", "connect", "credentials", "message", "tls", "login and send"]
    assert [s.name for s in steps] == names
    assert all(step.ok for step in steps)
    assert server.received[0].rcpt_tos == ["ops@example.com"]

    steps = run_config_test(
        account, password="wrong", credentials=outbound.deps.credentials,
        clock=lambda: datetime.now(UTC), sender="mailpoll@example.com",
    )  # fmt: skip
    assert not steps[-1].ok
    assert steps[-1].hint is not None
    assert "password" in steps[-1].hint


def test_without_a_system_address_a_login_that_is_no_address_is_refused(
    outbound: Outbound, server: SmtpServer
) -> None:
    outbound.add(server)
    outbound.set("system_email_address", "")
    with pytest.raises(ConfigError, match=r"^system_email_address: is not set"):
        send_mail(SendRequest(to=["a@example.com"], subject="s", body="b"), outbound.deps)


def test_mailpoll_send_waits_for_the_answer_and_exits_by_it(
    outbound: Outbound,
    server: SmtpServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("REDIS_URL", "EVENTS_URL", "BROKER_URL"):
        monkeypatch.delenv(f"MAILPOLL_{name}", raising=False)
    monkeypatch.setenv("MAILPOLL_DATABASE_URL", outbound.database.url)
    monkeypatch.setenv("MAILPOLL_SECRET_KEY", outbound.key)
    monkeypatch.setenv("MAILPOLL_DATA_DIR", str(tmp_path / "data"))
    argv = ["send", "--to", "bob@example.com", "--subject", "Hi", "--body", "Hello"]

    assert main(argv) == 2  # no outbound account yet
    assert capsys.readouterr().err.startswith("error: outbound account: none is enabled")
    outbound.add(server)
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith("sent: <")
    server.rcpt_answers["bob@example.com"] = "550 5.1.1 no such user"
    assert main(argv) == 1
    assert "no such user" in capsys.readouterr().err


def test_a_failing_account_is_reported_by_mail_through_the_outbound_account(
    outbound: Outbound,
    server: SmtpServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("REDIS_URL", "EVENTS_URL", "BROKER_URL"):
        monkeypatch.delenv(f"MAILPOLL_{name}", raising=False)
    settings = Settings(
        database_url=outbound.database.url, secret_key=outbound.key, data_dir=tmp_path / "data"
    )
    outbound.add(server)
    outbound.set("error_reporting_email_address", "ops@example.com")
    with outbound.database.session() as session:
        service = AccountService(session, secrets=lambda: outbound.box, actor="t")
        given = {"name": "broken", "type": "inbound", "host": "127.0.0.1", "port": 1}
        account_id = service.add({**given, "encryption": "none", "login": "u"}).account.id
    assert account_id is not None
    runtime = Runtime(App(settings), allow_embedded=True)
    worker = runtime.worker(threads=1)
    worker.start()
    try:
        for _ in range(4):
            poll_account(account_id, runtime.poll_deps)
        wait_until(lambda: len(server.received) == 1, 10, "the error report")
    finally:
        worker.stop()
        runtime.close()
    report = message_from_bytes(server.received[0].raw)
    assert report["Subject"] == "mailpoll: account broken is failing"
    assert server.received[0].rcpt_tos == ["ops@example.com"]


def test_send_no_wait_queues_the_mail_for_a_worker(
    outbound: Outbound,
    server: SmtpServer,
    tmp_path: Path,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("MAILPOLL_EVENTS_URL", raising=False)
    monkeypatch.setenv("MAILPOLL_REDIS_URL", redis_url)
    monkeypatch.setenv("MAILPOLL_DATABASE_URL", outbound.database.url)
    monkeypatch.setenv("MAILPOLL_SECRET_KEY", outbound.key)
    monkeypatch.setenv("MAILPOLL_DATA_DIR", str(tmp_path / "data"))
    outbound.add(server)
    attachment = tmp_path / "notes.txt"
    attachment.write_text("queued attachment\n")
    argv = ["send", "--to", "bob@example.com", "--subject", "Later", "--body", "Hi",
            "--attach", str(attachment), "--no-wait"]  # fmt: skip

    assert main(argv) == 0
    assert capsys.readouterr().out.startswith("queued: job ")
    assert server.received == []

    runtime = Runtime(App(Settings()), allow_embedded=False)
    worker = runtime.worker(threads=1)
    worker.start()
    try:
        wait_until(lambda: len(server.received) == 1, 15, "the queued mail")
    finally:
        worker.stop()
        runtime.close()
    message = message_from_bytes(server.received[0].raw)
    assert message["Subject"] == "Later"
    assert [p.get_filename() for p in message.walk() if p.get_filename()] == ["notes.txt"]
