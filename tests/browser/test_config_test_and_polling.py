"""Test Configuration of the values on screen against the throwaway Dovecot, and a saved
account polled by the running scheduler and worker, its status and events live."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.console_server import Console
from tests.browser.pages import screenshot
from tests.support.corpus import plain
from tests.support.dovecot import DovecotServer

pytestmark = pytest.mark.integration
STEPS = ["resolve", "connect", "credentials", "login", "folder", "filters"]


def fill_imap(page: Page, name: str, dovecot: DovecotServer, user: str, password: str) -> None:
    page.goto("/new-account")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Host").fill("127.0.0.1")
    page.get_by_label("Encryption").select_option("none")
    page.get_by_label("Use Default Port").uncheck()
    page.get_by_label("Port", exact=True).fill(str(dovecot.imap_port))
    page.get_by_label("Login").fill(user)
    page.get_by_label("Password", exact=True).fill(password)


def test_test_configuration_streams_every_step_then_a_wrong_password_fails_at_login_with_its_hint(
    admin: Page, console: Console, dovecot: DovecotServer, mailbox_user: tuple[str, str],
    tmp_path: Path,
) -> None:  # fmt: skip
    page = admin
    user, password = mailbox_user
    before = console.names()
    fill_imap(page, "tried", dovecot, user, password)
    page.get_by_role("button", name="Test Configuration").click()

    results = page.get_by_role("region", name="Test Configuration")
    steps = results.get_by_role("listitem")
    expect(steps).to_have_count(len(STEPS))
    for index, name in enumerate(STEPS):
        expect(steps.nth(index)).to_contain_text(f"{name}passed")
    expect(results).to_contain_text(
        "Every step passed. Remember to save the configuration after the test is successful."
    )
    expect(steps.nth(3)).to_contain_text(user)  # the server's words: logged in as the user
    results.scroll_into_view_if_needed()
    screenshot(page, tmp_path, "test-configuration")

    page.get_by_label("Password", exact=True).fill("wrong-password")
    page.get_by_role("button", name="Test Configuration").click()
    failed = steps.last
    expect(failed).to_contain_text("loginfailed")
    expect(failed).to_contain_text("check the login and password")
    expect(results).to_contain_text("The test failed at login. Nothing was saved.")
    assert console.names() == before


def test_a_saved_account_is_polled_its_status_turns_ok_and_its_events_arrive_live(
    admin: Page, console: Console, dovecot: DovecotServer, mailbox_user: tuple[str, str],
    tmp_path: Path,
) -> None:  # fmt: skip
    page = admin
    user, password = mailbox_user
    fill_imap(page, "polled", dovecot, user, password)
    page.get_by_label("Polling Interval (s)").fill("1")
    page.get_by_role("button", name="Save").first.click()
    expect(page.get_by_text("Created polled.")).to_be_visible()

    page.get_by_role("link", name="Status").click()
    expect(page.locator("#live-state")).to_have_attribute("data-ready", "true")
    dovecot.append(user, plain(subject="Live in the console"))
    live = page.get_by_role("list", name="Received messages")
    expect(live.get_by_role("listitem").first).to_contain_text(
        "Live in the console", timeout=20_000
    )
    health = page.get_by_role("row", name="polled")
    expect(health.get_by_text("OK", exact=True)).to_be_visible(timeout=20_000)
    screenshot(page, tmp_path, "status")

    page.get_by_role("link", name="Email Accounts").click()
    page.get_by_label("Search").fill("127.0.0.1")  # other tests' accounts fill the first page
    expect(page.get_by_role("row", name="polled").get_by_text("OK", exact=True)).to_be_visible()
    screenshot(page, tmp_path, "accounts")
