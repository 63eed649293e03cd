"""Who may see a console page: the API's session and CSRF checks, answered as pages.

A page asks `require_viewer` (the same check as the API, CSRF included for forms) with the
session cookie only; not signed in, or a session that has ended, goes to the sign-in page
and back; any other refusal is an error page instead of a problem document.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request

from web.auth import SESSION_COOKIE, Principal, require_viewer
from web.problems import Problem


class SignInFirst(Exception):
    """Not signed in (or the session ended): sign in, then come back to `next_path`."""

    def __init__(self, next_path: str, reason: str) -> None:
        super().__init__(reason)
        self.next_path = next_path
        self.reason = reason


class PageRefused(Exception):
    """A request the console refuses as a page: status and the one-line reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


async def viewer_page(request: Request) -> Principal:
    """Anyone signed in; the sign-in page otherwise."""
    session_id = request.cookies.get(SESSION_COOKIE)
    try:
        return await require_viewer(request, None, session_id)
    except Problem as problem:
        if problem.status == 401:
            reason = "Your session has ended: sign in again." if session_id else ""
            raise SignInFirst(come_back_to(request), reason) from None
        if problem.status == 403:
            raise PageRefused(
                403,
                "The form was refused: it did not carry this session's security token "
                "(a stale page, or a page from another site). Reload the page and try again.",
            ) from None
        raise PageRefused(problem.status, problem.detail) from None


async def admin_page(principal: Annotated[Principal, Depends(viewer_page)]) -> Principal:
    """Someone with the admin role; a viewer is told that changes need it."""
    if principal.role != "admin":
        raise PageRefused(403, f"{principal.name} has the viewer role: changes need the admin role")
    return principal


ViewerPage = Annotated[Principal, Depends(viewer_page)]
AdminPage = Annotated[Principal, Depends(admin_page)]


def come_back_to(request: Request) -> str:
    """Where to return after signing in: the page asked for, the page an htmx request came
    from, or (after a form) the form's page."""
    current = request.headers.get("hx-current-url")
    if current is not None:
        shown = urlsplit(current)
        return shown.path + (f"?{shown.query}" if shown.query else "")
    if request.method == "GET":
        query = f"?{request.url.query}" if request.url.query else ""
        return request.url.path + query
    parts = [part for part in request.url.path.split("/") if part][:2]
    return "/" + "/".join(parts)


def safe_next(path: str | None) -> str:
    """A local path to go on to; anything else (another site) goes to the accounts list."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/accounts"
    return path
