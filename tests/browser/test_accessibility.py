"""Accessibility in a real browser: axe-core finds no serious or critical violation on any
page, and an account can be made with the keyboard alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.console_server import Console
from tests.browser.pages import axe_violations, screenshot

pytestmark = pytest.mark.integration
PAGES = [
    "/accounts", "/new-account", "/new-account?type=outbound", "/accounts/a11y",
    "/accounts/a11y/audit", "/accounts/a11y/delete", "/status", "/settings", "/transfer",
]  # fmt: skip


def test_axe_finds_no_serious_violation_on_any_page(
    admin: Page, console: Console, tmp_path: Path
) -> None:
    console.add("a11y", type="inbound", host="imap.example.com", login="someone", enabled=False)
    page = admin
    found: dict[str, list[str]] = {}
    for path in PAGES:
        page.goto(path)
        found[path] = axe_violations(page)
    page.goto("/new-account")
    page.get_by_role("button", name="Save").first.click()  # a page with errors beside fields
    found["refused form"] = axe_violations(page)
    page.get_by_role("button", name="Sign out").click()
    found["sign-in"] = axe_violations(page)
    assert {path: v for path, v in found.items() if v} == {}


def test_an_account_is_made_with_the_keyboard_alone(
    admin: Page, console: Console, tmp_path: Path
) -> None:
    page = admin
    page.goto("/accounts")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.get_by_role("link", name="New inbound account").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="New email account")).to_be_visible()

    page.get_by_label("Name", exact=True).focus()
    page.keyboard.type("keyed")
    for _ in range(4):  # Enabled, Protect During Import, its "More about", Type
        page.keyboard.press("Tab")
    type_field = page.get_by_label("Type", exact=True)
    expect(type_field).to_be_focused()
    page.keyboard.press("ArrowDown")  # Outbound: the fields change, focus stays
    expect(page.get_by_label("Test To")).to_be_visible()
    expect(type_field).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Host")).to_be_focused()
    page.keyboard.type("smtp.example.com")
    page.get_by_label("Authorisation Type").focus()
    page.keyboard.press("End")  # None (outbound relays)
    expect(page.get_by_label("Login")).to_be_hidden()
    expect(page.get_by_label("Authorisation Type")).to_be_focused()
    page.get_by_label("Enabled", exact=True).focus()
    page.keyboard.press("Space")  # unticked: another test's outbound account may be enabled
    page.keyboard.press("Enter")  # submits with the first button, Save
    expect(page.get_by_text("Created keyed.")).to_be_visible()
    screenshot(page, tmp_path, "account-outbound")
    shown = console.show("keyed")
    assert (shown["type"], shown["auth_type"], shown["enabled"]) == ("outbound", "none", False)
