"""The API documentation page renders from the package's own files, under a strict CSP."""

from __future__ import annotations

from playwright.sync_api import ConsoleMessage, Page, expect


def test_the_api_docs_render_offline_without_csp_violations(page: Page) -> None:
    complaints: list[str] = []

    def listen(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or message.type == "error":
            complaints.append(message.text)

    page.on("console", listen)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on(
        "response", lambda r: complaints.append(f"{r.status} {r.url}") if r.status >= 400 else None
    )

    page.goto("/api/docs")

    expect(page.get_by_role("heading", name="mailpoll admin API")).to_be_visible()
    expect(page.get_by_text("/api/accounts", exact=True).first).to_be_visible()
    assert complaints == [], requested
    base = page.url.split("/api/docs")[0]
    assert all(url.startswith(base) or url.startswith("data:") for url in requested), requested
