"""`mailpoll web`: the admin HTTP API (OpenAPI at /api/openapi.json) as a process of its own."""

from __future__ import annotations

import click

from mailpoll.app import App


@click.command("web")
@click.option("--host", help="address to listen on [default: MAILPOLL_WEB_HOST or 127.0.0.1]")
@click.option(
    "--port", type=click.IntRange(1, 65535), help="port [default: MAILPOLL_WEB_PORT or 8080]"
)
@click.pass_obj
def web_command(app: App, host: str | None, port: int | None) -> None:
    """Serve the admin API: accounts, status, settings, export and import over HTTP.

    Binds to loopback by default; to serve others, put it behind a TLS-terminating proxy.
    The first admin user comes from `mailpoll admins add NAME --role admin --password-stdin`.
    """
    from mailpoll import probes
    from mailpoll.webserver import listen, server, url

    host = host or app.settings.web_host
    port = port or app.settings.web_port
    sock = listen(host, port)
    web = server(app, host=host, port=port)  # opens (and upgrades) the database
    probes.serve(app.settings, probes.web(web.config.app))  # also on MAILPOLL_METRICS_PORT
    address = url(host, port)
    click.echo(f"mailpoll web on {address} (API documentation at {address}/api/docs)", err=True)
    web.run(sockets=[sock])
