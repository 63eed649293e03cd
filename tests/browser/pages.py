"""What the browser tests do as a person would: sign in, take screenshots, run axe, and
record what must never happen (a 5xx answer, a JavaScript error)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from playwright.sync_api import ConsoleMessage, Page, Response, expect

AXE = Path(__file__).parent / "vendor" / "axe.min.js"


class Recorder:
    """Every 5xx answer, JavaScript error and content security policy violation of a page;
    `check` fails on any."""

    def __init__(self, page: Page) -> None:
        self.problems: list[str] = []
        page.on("response", self._response)
        page.on("pageerror", lambda error: self.problems.append(f"JavaScript error: {error}"))
        page.on("console", self._console)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.problems.append(f"CSP violation: {message.text}")

    def _response(self, response: Response) -> None:
        if response.status >= 500:
            self.problems.append(f"{response.status} from {response.request.method} {response.url}")

    def check(self) -> None:
        assert not self.problems, "\n".join(self.problems)


def sign_in(page: Page, name: str, password: str, path: str = "/accounts") -> None:
    page.goto(path)
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def screenshot(page: Page, directory: Path, name: str) -> Path:
    """A screenshot of the window as a test artifact; also in MAILPOLL_SCREENSHOTS when set
    (the README's pictures are made so)."""
    path = directory / f"{name}.png"
    page.screenshot(path=path)
    wanted = os.environ.get("MAILPOLL_SCREENSHOTS")
    if wanted:
        shutil.copyfile(path, Path(wanted) / path.name)
    return path


def axe_violations(page: Page, impacts: tuple[str, ...] = ("serious", "critical")) -> list[str]:
    """axe-core's violations of these impacts on the page as it is now, one line each.

    axe is evaluated through the DevTools protocol, which the page's content security policy
    does not govern: the policy stays as strict as users get it."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    found: list[dict[str, Any]] = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [
        f"{v['impact']}: {v['id']}: {v['help']} ({_targets(v)})"
        for v in found
        if v.get("impact") in impacts
    ]


def _targets(violation: dict[str, Any]) -> str:
    return ", ".join(str(node["target"]) for node in violation["nodes"][:3])
