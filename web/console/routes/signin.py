"""Signing in and out of the console, through the API's own sign-in (throttling included)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from web.console.guard import ViewerPage, safe_next
from web.console.pages import go, render
from web.problems import Problem
from web.routes import session as api_session

router = APIRouter(include_in_schema=False)


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/accounts", status_code=303)


@router.get("/signin")
def sign_in_page(request: Request, next: str | None = None) -> Response:
    return render(request, "signin.html", None, next_path=safe_next(next), name="", error="")


@router.post("/signin")
def sign_in(
    request: Request,
    name: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=2000)] = "/accounts",
) -> Response:
    if not _same_origin(request):
        return _again(request, name, next, "Sign in from this site's own sign-in page.", 403)
    cookies = Response()
    try:
        api_session.sign_in(api_session.SignIn(name=name, password=password), request, cookies)
    except Problem as refused:
        return _again(request, name, next, _said(refused), refused.status)
    response = RedirectResponse(safe_next(next), status_code=303)
    _copy_cookies(cookies, response)
    return response


@router.post("/signout")
def sign_out(request: Request, principal: ViewerPage) -> Response:
    ended = api_session.sign_out(principal, request)
    response = go("/signin", ("ok", "You are signed out."))
    _copy_cookies(ended, response)
    return response


def _again(request: Request, name: str, next_path: str, error: str, status: int) -> Response:
    return render(
        request, "signin.html", None, status=status, next_path=safe_next(next_path), name=name,
        error=error,
    )  # fmt: skip


def _said(refused: Problem) -> str:
    if refused.status == 401:
        return "Wrong name or password."
    return refused.detail[:1].upper() + refused.detail[1:] + "."


def _same_origin(request: Request) -> bool:
    """A sign-in posted by another site's page (login CSRF) says so in Sec-Fetch-Site (the
    Origin header says "null" here, since pages send no referrer)."""
    return request.headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")


def _copy_cookies(source: Response, target: Response) -> None:
    """The session cookie the API's sign-in (or sign-out) set, on the page's redirect."""
    target.raw_headers.extend(
        (key, value) for key, value in source.raw_headers if key == b"set-cookie"
    )
