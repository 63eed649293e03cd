"""`mailpoll web`: the admin HTTP API (OpenAPI at /api/openapi.json) as a process of its own."""

from __future__ import annotations

import click

from mailpoll.app import App


@click.command("web")
@click.option("--host", help="address to listen on [default: MAILPOLL_WEB_HOST or 127.0.0.1]")
@click.option("--port", type=int, help="port [default: MAILPOLL_WEB_PORT or 8080]")
@click.pass_obj
def web_command(app: App, host: str | None, port: int | None) -> None:
    """Serve the admin API: accounts, status, settings, export and import over HTTP.

    Binds to loopback by default; to serve others, put it behind a TLS-terminating proxy.
    """
    from mailpoll.webserver import server

    host = host or app.settings.web_host
    port = port or app.settings.web_port
    click.echo(f"mailpoll web on http://{host}:{port} (API documentation at /api/docs)", err=True)
    server(app, host=host, port=port).run()
