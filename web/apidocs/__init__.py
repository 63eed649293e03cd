"""The interactive API documentation: Swagger UI served from the package (no CDN, works
offline) under a content security policy that allows no inline script."""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
STATIC_URL = "/api/docs-static"


def install(app: FastAPI, *, docs_url: str, openapi_url: str) -> None:
    """Serve the documentation page at `docs_url` and its files under STATIC_URL."""
    app.mount(STATIC_URL, StaticFiles(directory=STATIC), name="apidocs")

    @app.get(docs_url, include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(_PAGE.format(title=escape(app.title), openapi=escape(openapi_url)))


_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{title}}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{STATIC_URL}/swagger-ui.css">
</head>
<body data-openapi="{{openapi}}">
<div id="swagger-ui"></div>
<script src="{STATIC_URL}/swagger-ui-bundle.js"></script>
<script src="{STATIC_URL}/start.js"></script>
</body>
</html>
"""
