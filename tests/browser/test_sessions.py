"""Sign-in, sign-out, CSRF and session expiry as a browser meets them; a viewer reads only."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from shared.admins import AdminUsers
from tests.browser.console_server import ADMIN, VIEWER, Console
from tests.browser.pages import screenshot, sign_in

pytestmark = pytest.mark.integration


def add(console: Console, name: str) -> None:
    console.add(name, type="outbound", host="smtp.example.com", auth_type="none", enabled=False)


def end_sessions_of_alice(console: Console) -> None:
    """What a password change does: every browser session of the user ends."""
    with console.database.session() as session:
        AdminUsers(session, actor="test").set_password(*ADMIN)


def test_a_wrong_password_is_refused_and_sign_out_ends_the_session(
    page: Page, tmp_path: Path
) -> None:
    page.goto("/status")
    expect(page).to_have_url("/signin?next=%2Fstatus")
    page.get_by_label("Name").fill(ADMIN[0])
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong name or password.")
    screenshot(page, tmp_path, "sign-in")
    page.get_by_label("Password").fill(ADMIN[1])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Status", exact=True)).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    page.goto("/accounts")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()


def test_a_form_without_the_sessions_csrf_token_is_refused_and_changes_nothing(
    admin: Page, console: Console
) -> None:
    add(console, "guarded")
    page = admin
    page.goto("/accounts/guarded")
    page.locator("#account-form input[name=csrf_token]").evaluate(
        "input => { input.value = 'forged' }"
    )
    page.get_by_label("Host").fill("evil.example.com")
    page.get_by_role("button", name="Save").first.click()

    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("did not carry this session's security token")
    assert console.show("guarded")["host"] == "smtp.example.com"


def test_an_ended_session_goes_to_sign_in_and_back_to_the_page_asked_for(
    admin: Page, console: Console
) -> None:
    page = admin
    page.goto("/new-account")
    end_sessions_of_alice(console)
    page.get_by_label("Type", exact=True).select_option("outbound")  # an htmx request
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.get_by_text("Your session has ended: sign in again.")).to_be_visible()

    page.get_by_label("Name").fill(ADMIN[0])
    page.get_by_label("Password").fill(ADMIN[1])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="New email account")).to_be_visible()

    end_sessions_of_alice(console)
    page.get_by_role("link", name="Status").click()
    expect(page).to_have_url("/signin?next=%2Fstatus")
    expect(page.get_by_text("Your session has ended: sign in again.")).to_be_visible()


def test_a_viewer_reads_accounts_but_cannot_change_them(page: Page, console: Console) -> None:
    add(console, "readable")
    sign_in(page, *VIEWER)
    page.get_by_label("Search").fill("readable")  # other tests' accounts fill the first page
    page.get_by_role("link", name="readable", exact=True).click()
    expect(page.get_by_label("Host")).to_be_disabled()
    expect(page.get_by_role("button", name="Save")).to_have_count(0)
    page.goto("/new-account")
    expect(page.get_by_role("alert")).to_contain_text("victor has the viewer role")
