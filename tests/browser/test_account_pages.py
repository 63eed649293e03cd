"""An account's other pages in a real browser: the Audit tab after an edit, OAuth2
Authenticate with the stand-in provider, and Delete with its confirmation."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.console_server import Console
from tests.browser.pages import screenshot
from tests.support.dovecot import DovecotServer
from tests.support.oauth_server import OAuthServer

pytestmark = pytest.mark.integration


def test_an_edit_is_read_in_the_audit_tab_with_old_and_new_values_and_secrets_only_as_changed(
    admin: Page, console: Console, tmp_path: Path
) -> None:
    console.add("audited", type="inbound", host="imap.example.com", login="me",
                password="first-secret")  # fmt: skip
    page = admin
    page.goto("/accounts/audited")
    page.get_by_label("Host").fill("imap2.example.com")
    page.get_by_label("Polling Interval (s)").fill("120")
    page.get_by_label("Password", exact=True).fill("second-secret")
    page.get_by_role("button", name="Save").first.click()
    expect(page.get_by_text("Saved audited (host, password, polling_interval).")).to_be_visible()

    page.get_by_role("link", name="Audit").click()
    expect(page.get_by_role("heading", name="Audit Summary")).to_be_visible()
    latest = page.get_by_role("listitem").filter(has_text="Updated by alice").first
    expect(latest.get_by_role("row", name="Host")).to_contain_text(
        "imap.example.comimap2.example.com"
    )
    expect(latest.get_by_role("row", name="Polling Interval (s)")).to_contain_text("120")
    expect(latest.get_by_role("row", name="Password")).to_contain_text("(set)(changed)")
    expect(page.locator("main")).not_to_contain_text("second-secret")
    expect(page.get_by_text("Modified by")).to_be_visible()
    screenshot(page, tmp_path, "audit")


def test_authenticate_goes_to_the_provider_and_back_and_shows_the_token_read_only(
    admin: Page, console: Console, provider: OAuthServer, oauth_dovecot: DovecotServer
) -> None:
    user = oauth_dovecot.new_user()
    console.add("oauthed", type="inbound", host="127.0.0.1", encryption="none",
                port=oauth_dovecot.imap_port, auth_type="oauth2", login=user,
                client_token_config=json.dumps(provider.config()))  # fmt: skip
    provider.consent, provider.consent_user = "approve", user
    page = admin
    page.goto("/accounts/oauthed")
    expect(page.get_by_label("Status", exact=True)).to_have_value("not authenticated")
    expect(page.get_by_label("Client Token Instance")).to_have_value("(none)")

    page.get_by_role("button", name="Authenticate").click()

    page.wait_for_url("**/accounts/oauthed")
    status = page.get_by_label("Status", exact=True)
    expect(status).to_have_value(re.compile(r"^authenticated; access token valid until "))
    expect(status).not_to_be_editable()
    expect(page.get_by_label("Client Token Instance")).to_have_value(
        re.compile(f"^issued to {user}@example.com, scopes mail openid")
    )
    page.get_by_role("button", name="Test Configuration").click()
    expect(page.get_by_role("region", name="Test Configuration")).to_contain_text(
        "Every step passed."
    )


def test_delete_asks_first_and_removes_the_account(admin: Page, console: Console) -> None:
    console.add("doomed", type="outbound", host="smtp.example.com", auth_type="none",
                enabled=False)  # fmt: skip
    page = admin
    page.goto("/accounts/doomed")
    page.get_by_role("link", name="Delete…").click()
    expect(page.get_by_role("heading", name="Delete doomed?")).to_be_visible()
    page.get_by_role("link", name="Keep it").click()
    assert console.find("doomed") is not None
    page.get_by_role("link", name="Delete…").click()
    page.get_by_role("button", name="Delete doomed").click()
    expect(page.get_by_text("Deleted doomed.")).to_be_visible()
    expect(page.get_by_role("heading", name="Email Accounts")).to_be_visible()
    assert console.find("doomed") is None


def test_a_save_over_another_admins_change_is_refused_and_keeps_theirs(
    admin: Page, console: Console
) -> None:
    console.add("shared-edit", type="inbound", host="one.example.com", login="x", enabled=False)
    page = admin
    page.goto("/accounts/shared-edit")
    with console.accounts() as service:  # another admin saves meanwhile
        service.update("shared-edit", {"host": "theirs.example.com"})
    page.get_by_label("Host").fill("mine.example.com")
    page.get_by_role("button", name="Save").first.click()

    expect(page.get_by_role("alert")).to_contain_text(
        "someone changed it since you opened it. Open it again"
    )
    expect(page.get_by_label("Host")).to_have_value("mine.example.com")  # what was typed stays
    assert console.show("shared-edit")["host"] == "theirs.example.com"
