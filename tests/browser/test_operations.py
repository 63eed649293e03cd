"""System Configuration, Export/Import with its dry run, and Replay of a dead letter, in a
real browser."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from shared import deadletters
from shared.db.models import Account, DeadLetter
from tests.browser.console_server import Console
from tests.browser.pages import screenshot

pytestmark = pytest.mark.integration


def test_import_shows_the_dry_run_report_and_changes_nothing_until_applied(
    admin: Page, console: Console, tmp_path: Path
) -> None:
    console.add("kept", type="inbound", host="old.example.com", login="k",
                protect_during_import=True, enabled=False)  # fmt: skip
    console.add("moved", type="inbound", host="old.example.com", login="m", enabled=False)
    document = {"version": 1, "accounts": [
        {"name": "kept", "type": "inbound", "host": "new.example.com", "login": "k",
         "enabled": False},
        {"name": "moved", "type": "inbound", "host": "new.example.com", "login": "m",
         "enabled": False},
        {"name": "arrived", "type": "inbound", "host": "new.example.com", "login": "a",
         "enabled": False},
    ]}  # fmt: skip
    upload = tmp_path / "accounts.json"
    upload.write_text(json.dumps(document))
    page = admin
    page.get_by_role("link", name="Export / Import").click()
    page.get_by_label("Export file").set_input_files(upload)
    page.get_by_role("button", name="Check the import (dry run)").click()

    report = page.get_by_role("region", name="Dry run: what the import would do")
    expect(report).to_contain_text("Nothing has been changed yet.")
    expect(report.get_by_role("definition").nth(0)).to_have_text("arrived")  # created
    expect(report.get_by_role("definition").nth(1)).to_have_text("moved")  # updated
    expect(report.get_by_role("definition").nth(3)).to_have_text("kept")  # skipped as protected
    expect(
        report.get_by_role("table", name="moved").get_by_role("row", name="host")
    ).to_contain_text("old.example.comnew.example.com")
    screenshot(page, tmp_path, "import-dry-run")
    assert console.find("arrived") is None
    assert console.show("moved")["host"] == "old.example.com"

    page.get_by_role("button", name="Apply this import").click()
    expect(page.get_by_text("The import was applied.")).to_be_visible()
    assert console.show("arrived")["host"] == "new.example.com"
    assert console.show("moved")["host"] == "new.example.com"
    assert console.show("kept")["host"] == "old.example.com"


def test_a_refused_import_lists_every_problem_and_writes_nothing(
    admin: Page, console: Console, tmp_path: Path
) -> None:
    upload = tmp_path / "bad.json"
    upload.write_text(json.dumps({"version": 1, "accounts": [
        {"name": "fine-one", "type": "inbound", "host": "h.example.com", "login": "f",
         "enabled": False},
        {"name": "broken", "type": "inbound", "host": "h.example.com", "login": "b",
         "polling_interval": 0},
    ]}))  # fmt: skip
    page = admin
    page.goto("/transfer")
    page.get_by_label("Export file").set_input_files(upload)
    page.get_by_role("button", name="Check the import (dry run)").click()
    expect(page.get_by_role("alert")).to_contain_text("import: 1 problem(s), nothing written")
    expect(page.get_by_role("listitem").filter(has_text="broken")).to_contain_text(
        "polling_interval: must be at least 1 (got 0)"
    )
    expect(page.get_by_role("button", name="Apply this import")).to_have_count(0)
    assert console.find("fine-one") is None


def test_replay_puts_a_dead_letter_back_for_the_next_poll(
    admin: Page, console: Console, tmp_path: Path
) -> None:
    console.add("stuck", type="inbound", host="imap.example.com", login="s", enabled=False)
    with console.database.session() as session:
        account = session.exec(select(Account).where(Account.name == "stuck")).one()
        now = datetime.now(UTC)
        letter = DeadLetter(
            account_id=account.id or 0, folder="INBOX", uidvalidity=7, uid=42,
            error="parse: message too large (120 MiB)", attempts=5, first_failed_at=now,
            last_failed_at=now, dead=True,
        )  # fmt: skip
        session.add(letter)
        session.flush()
        letter_id = letter.id
    page = admin
    page.get_by_role("link", name="Status").click()
    row = page.get_by_role("row").filter(has_text="parse: message too large")
    expect(row).to_contain_text("Dead")
    row.get_by_role("button", name=f"Replay dead letter {letter_id} of stuck").click()

    expect(
        page.get_by_text("1 dead letter(s) will be tried again at the next poll.")
    ).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="parse: message too large")).to_contain_text(
        "Replay pending"
    )
    with console.database.session() as session:
        listed = deadletters.rows(session, account.id)
    assert [(d["id"], d["state"]) for d in listed] == [(letter_id, "replay pending")]


def test_system_configuration_saves_checked_values_and_refuses_a_bad_one_beside_it(
    admin: Page, console: Console, tmp_path: Path
) -> None:
    page = admin
    page.get_by_role("link", name="System Configuration").click()
    page.get_by_label("System Email Address").fill("mailpoll@example.com")
    page.get_by_label("Default Polling Interval (s)").fill("0")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_label("Default Polling Interval (s)")).to_have_attribute(
        "aria-invalid", "true"
    )
    expect(page.get_by_role("alert")).to_contain_text("Nothing was saved")
    assert console.setting("system_email_address") is None

    page.get_by_label("Default Polling Interval (s)").fill("1")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved: System Email Address.")).to_be_visible()
    expect(page.get_by_label("System Email Address")).to_have_value("mailpoll@example.com")
    screenshot(page, tmp_path, "system-configuration")
    assert console.setting("system_email_address") == "mailpoll@example.com"
