"""The Email Accounts list in a real browser: search and filters as you type, pages."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.console_server import Console

pytestmark = pytest.mark.integration


def test_search_filters_and_pages_narrow_the_list_as_you_type(
    admin: Page, console: Console
) -> None:
    with console.accounts() as service:
        for n in range(55):
            service.add({"name": f"bulk-{n:03d}", "type": "inbound", "login": "x",
                         "host": f"imap{n % 2}.bulk.example", "enabled": n % 5 != 0})  # fmt: skip
    page = admin
    page.goto("/accounts")
    page.get_by_label("Search").fill("bulk.example")
    table = page.locator("#account-table")
    expect(table.get_by_role("status")).to_have_text("55 accounts match the filter")
    expect(page).to_have_url("/accounts?q=bulk.example&type=&enabled=&health=")  # pushed
    expect(table.get_by_role("row")).to_have_count(51)  # a page of 50, and the head

    page.get_by_role("link", name="Next page").click()
    expect(page.get_by_role("row", name="bulk-054")).to_be_visible()
    expect(page.get_by_role("row", name="bulk-000")).to_have_count(0)
    page.get_by_role("link", name="First page").click()
    expect(page.get_by_role("row", name="bulk-000")).to_be_visible()

    page.get_by_label("Enabled", exact=True).select_option("no")
    expect(table.get_by_role("status")).to_have_text("11 accounts match the filter")
    page.get_by_label("Search").fill("imap1.bulk")
    expect(table.get_by_role("status")).to_have_text("5 accounts match the filter")
    expect(table.get_by_role("row", name="bulk-005")).to_contain_text("Disabled")

    page.get_by_role("link", name="bulk-005").click()
    page.get_by_role("button", name="Enable").click()
    expect(page.get_by_text("bulk-005 is enabled.")).to_be_visible()
    page.get_by_role("button", name="Disable").click()
    expect(page.get_by_text("bulk-005 is disabled.")).to_be_visible()
    assert console.show("bulk-005")["enabled"] is False
