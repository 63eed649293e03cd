"""The console with JavaScript switched off: plain forms do everything (fields change after
"Show the fields for these choices", Test Configuration shows every step at once); and the
outbound account's Send test mail through a real SMTP server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from shared.settings import Settings
from shared.system_settings import SystemSettings
from tests.browser.console_server import ADMIN, Console
from tests.browser.pages import Recorder, sign_in
from tests.support.dovecot import DovecotServer
from tests.support.smtp_server import SmtpServer

pytestmark = pytest.mark.integration


@pytest.fixture
def plain(browser: Browser, console: Console) -> Iterator[Page]:
    """A browser without JavaScript, signed in as an admin."""
    context = browser.new_context(base_url=console.url, java_script_enabled=False)
    opened = context.new_page()
    opened.set_default_timeout(10_000)
    recorder = Recorder(opened)
    sign_in(opened, *ADMIN)
    yield opened
    context.close()
    recorder.check()


def test_without_javascript_the_fields_change_on_request_and_test_configuration_shows_all_steps(
    plain: Page, console: Console, dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    page = plain
    user, password = mailbox_user
    page.goto("/new-account")
    page.get_by_label("Name", exact=True).fill("no-script")
    page.get_by_label("Host").fill("127.0.0.1")
    page.get_by_label("Encryption").select_option("none")
    page.get_by_label("Use Default Port").uncheck()
    page.get_by_label("Authorisation Type").select_option("external")
    expect(page.get_by_label("Username Key")).to_be_hidden()  # nothing runs on a change
    page.get_by_role("button", name="Show the fields for these choices").click()
    expect(page.get_by_label("Username Key")).to_be_visible()
    expect(page.get_by_label("Name", exact=True)).to_have_value("no-script")  # kept
    page.get_by_label("Authorisation Type").select_option("local")
    page.get_by_role("button", name="Show the fields for these choices").click()
    page.get_by_label("Port", exact=True).fill(str(dovecot.imap_port))
    page.get_by_label("Login").fill(user)
    page.get_by_label("Password", exact=True).fill(password)

    page.get_by_role("button", name="Test Configuration").click()
    results = page.get_by_role("region", name="Test Configuration")
    expect(results.get_by_role("listitem")).to_have_count(6)
    expect(results).to_contain_text("Remember to save the configuration after the test")
    assert console.find("no-script") is None
    page.get_by_label("Password", exact=True).fill(password)  # not sent back to the page
    page.get_by_role("button", name="Save").first.click()
    expect(page.get_by_text("Created no-script.")).to_be_visible()
    assert console.show("no-script")["password"] == "(set)"


def test_send_test_mail_goes_out_through_the_outbound_account(
    admin: Page, console: Console
) -> None:
    with console.accounts() as service:
        for account in service.list():
            if account.type == "outbound" and account.enabled:
                service.set_enabled(account.name, False)
    with console.database.session() as session:
        SystemSettings(session, Settings(), actor="test").set(
            "system_email_address", "mailpoll@example.com"
        )
    with SmtpServer() as smtp:
        console.add("mailer", type="outbound", host="127.0.0.1", port=smtp.port,
                    encryption="none", auth_type="none", test_to="ops@example.com")  # fmt: skip
        page = admin
        page.goto("/accounts/mailer")
        page.get_by_role("button", name="Send test mail").click()
        expect(page.get_by_role("status")).to_contain_text("Test mail sent to ops@example.com")
        assert [r.rcpt_tos for r in smtp.received] == [["ops@example.com"]]
