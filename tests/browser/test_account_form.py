"""The account form in a real browser: fields appear and disappear as the seed says while
Type, Authorisation Type, On Email Received and Delete Read Messages change; Use Default Port
shows the computed port and locks Port; Properties are checked beside the field; Save."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.console_server import Console
from tests.browser.pages import screenshot
from tests.support.dovecot import DovecotServer

pytestmark = pytest.mark.integration


def visible(page: Page, *labels: str) -> None:
    for label in labels:
        expect(page.get_by_label(label, exact=True)).to_be_visible()


def hidden(page: Page, *labels: str) -> None:
    for label in labels:
        expect(page.get_by_label(label, exact=True)).to_be_hidden()


def test_creating_an_inbound_account_shows_each_field_only_when_the_seed_says_it_is_available(
    admin: Page, console: Console, dovecot: DovecotServer, mailbox_user: tuple[str, str],
    tmp_path: Path,
) -> None:  # fmt: skip
    page = admin
    user, password = mailbox_user
    page.get_by_role("link", name="New inbound account").click()
    visible(page, "Name", "Type", "Host", "Protocol", "On Email Received", "Folder", "Login",
            "Password", "Polling Interval (s)", "Delete Read Messages")  # fmt: skip
    hidden(page, "Test To", "Username Key", "Password Key", "Client Token Configuration",
           "Delete After Days", "Move To Folder")  # fmt: skip

    page.get_by_label("Type", exact=True).select_option("outbound")
    visible(page, "Test To")
    hidden(page, "Protocol", "On Email Received", "Folder", "Polling Interval (s)",
           "Delete Read Messages")  # fmt: skip
    page.get_by_label("Type", exact=True).select_option("inbound")
    visible(page, "Protocol", "Folder")
    hidden(page, "Test To")

    auth = page.get_by_label("Authorisation Type")
    auth.select_option("external")
    visible(page, "Username Key", "Password Key")
    hidden(page, "Login", "Password")
    auth.select_option("oauth2")
    visible(page, "Login", "Client Token Configuration", "Client Token Instance", "Status")
    hidden(page, "Password", "Username Key")
    expect(page.get_by_label("Client Token Instance")).not_to_be_editable()
    expect(page.get_by_label("Status", exact=True)).not_to_be_editable()
    auth.select_option("local")
    visible(page, "Login", "Password")

    page.get_by_label("On Email Received").select_option("move")
    visible(page, "Move To Folder")
    page.get_by_label("On Email Received").select_option("leave")
    hidden(page, "Move To Folder")
    page.get_by_label("Delete Read Messages").check()
    visible(page, "Delete After Days")
    page.get_by_label("Delete Read Messages").uncheck()
    hidden(page, "Delete After Days")

    expect(page.get_by_label("Default Port", exact=True)).to_have_value("993")
    expect(page.get_by_label("Port", exact=True)).to_have_value("993")
    expect(page.get_by_label("Port", exact=True)).not_to_be_editable()
    page.get_by_label("Encryption").select_option("none")
    expect(page.get_by_label("Default Port", exact=True)).to_have_value("143")
    page.get_by_label("Protocol").select_option("pop3")
    expect(page.get_by_label("Default Port", exact=True)).to_have_value("110")
    page.get_by_label("Protocol").select_option("imap")
    page.get_by_label("Use Default Port").uncheck()
    hidden(page, "Default Port")
    expect(page.get_by_label("Port", exact=True)).to_be_editable()

    page.get_by_label("Name", exact=True).fill("form-made")
    page.get_by_label("Host").fill("127.0.0.1")
    page.get_by_label("Port", exact=True).fill(str(dovecot.imap_port))
    page.get_by_label("Login").fill(user)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Polling Interval (s)").fill("30")
    properties = page.get_by_label("Properties")
    properties.fill("fetch_chunk=50\nsmtp_helo=me.example")
    expect(page.locator("#err-properties")).to_have_text(
        "'smtp_helo' does not apply to inbound accounts"
    )
    properties.fill("fetch_chunk=50")
    expect(page.locator("#err-properties")).to_have_text("")
    screenshot(page, tmp_path, "account-new")
    page.get_by_role("button", name="Save").first.click()

    expect(page.get_by_role("heading", name="form-made")).to_be_visible()
    expect(page.get_by_text("Created form-made.")).to_be_visible()
    shown = console.show("form-made")
    assert (shown["type"], shown["host"], shown["port"], shown["use_default_port"]) == (
        "inbound", "127.0.0.1", dovecot.imap_port, False,
    )  # fmt: skip
    assert (shown["login"], shown["password"], shown["encryption"]) == (user, "(set)", "none")
    assert (shown["polling_interval"], shown["properties"]) == (30, "fetch_chunk=50")
    assert shown["created_by"] == "alice"


def test_a_refused_value_is_shown_beside_its_field_in_the_services_words_and_nothing_is_saved(
    admin: Page, console: Console
) -> None:
    page = admin
    page.goto("/new-account")
    page.get_by_label("Name", exact=True).fill("bad-folder")
    page.get_by_label("Host").fill("imap.example.com")
    page.get_by_label("Login").fill("someone")
    page.get_by_label("Folder", exact=True).fill("../escape")
    page.get_by_role("button", name="Save").first.click()

    folder = page.get_by_label("Folder", exact=True)
    expect(folder).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#err-folder")).to_have_text(
        "'../escape' must not contain empty, '.' or '..' parts"
    )
    expect(page.get_by_role("alert")).to_contain_text("The account was not created: folder:")
    expect(page.get_by_label("Name", exact=True)).to_have_value("bad-folder")  # kept as typed
    assert console.find("bad-folder") is None


def test_a_second_enabled_outbound_account_is_refused_with_the_name_of_the_active_one(
    admin: Page, console: Console
) -> None:
    console.add("relay-one", type="outbound", host="smtp.example.com", auth_type="none")
    page = admin
    page.get_by_role("link", name="New outbound account").click()
    expect(page.get_by_label("Test To")).to_be_visible()
    page.get_by_label("Name", exact=True).fill("relay-two")
    page.get_by_label("Host").fill("smtp2.example.com")
    page.get_by_label("Authorisation Type").select_option("none")
    page.get_by_role("button", name="Save").first.click()

    expect(page.locator("#err-enabled")).to_contain_text(
        "outbound account 'relay-one' is already enabled; only one outbound account can be active"
    )
    expect(page.get_by_label("Enabled", exact=True)).to_have_attribute("aria-invalid", "true")
    assert console.find("relay-two") is None
    page.get_by_label("Enabled", exact=True).uncheck()
    page.get_by_role("button", name="Save").first.click()
    expect(page.get_by_text("Created relay-two.")).to_be_visible()
    page.get_by_role("button", name="Enable").click()
    expect(page.get_by_role("alert")).to_contain_text("'relay-one' is already enabled")
    assert console.show("relay-two")["enabled"] is False
