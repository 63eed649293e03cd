"""Fixtures of the browser tests: one Chromium and one console server for the session, a
fresh browser context per test that fails the test on any 5xx answer or JavaScript error."""

from __future__ import annotations

import os
import shutil
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from tests.browser.console_server import ADMIN, Console, running_console
from tests.browser.pages import Recorder, sign_in
from tests.integration.conftest import oauth_dovecot, provider

__all__ = ["oauth_dovecot", "provider"]
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium", pytrace=False)
    launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
    yield launched
    launched.close()


@pytest.fixture(scope="session")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    with running_console(tmp_path_factory.mktemp("console")) as running:
        yield running


@pytest.fixture
def page(
    browser: Browser, console: Console, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Page]:
    """A new browser context (no cookies) on the console; 5xx answers and JavaScript errors
    fail the test, and a failed test keeps a screenshot of its end beside its files."""
    context = browser.new_context(base_url=console.url, viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(10_000)
    recorder = Recorder(opened)
    yield opened
    try:
        outcome = getattr(request.node, "outcome_of_call", None)
        if outcome is None or outcome.failed:
            opened.screenshot(path=tmp_path / "failed.png", full_page=True)
    finally:
        context.close()
    recorder.check()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """The call's outcome, for the page fixture's teardown."""
    report = yield
    if report.when == "call":
        item.outcome_of_call = report  # type: ignore[attr-defined]
    return report


@pytest.fixture
def admin(page: Page) -> Page:
    """The page signed in as an admin."""
    sign_in(page, *ADMIN)
    return page


def pytest_configure(config: pytest.Config) -> None:
    """MAILPOLL_SCREENSHOTS=DIR also keeps the named screenshots there (the README's)."""
    wanted = os.environ.get("MAILPOLL_SCREENSHOTS")
    if wanted:
        Path(wanted).mkdir(parents=True, exist_ok=True)
