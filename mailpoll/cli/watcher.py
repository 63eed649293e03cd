"""`mailpoll watcher`: the push role, IMAP IDLE connections for the accounts with idle=true."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from mailpoll.cli.stopping import stop_on_signals

if TYPE_CHECKING:
    from mailpoll.app import App


@click.command("watcher")
@click.option(
    "--lease-seconds",
    default=10.0,
    show_default=True,
    type=click.FloatRange(min=1.0, max=600.0),
    help="how long a dead watcher's accounts stay with it before the others take them",
)
@click.option(
    "--max-logins",
    default=50,
    show_default=True,
    type=click.IntRange(min=1, max=10_000),
    help="logins at once (after a start or a server restart)",
)
@click.pass_obj
def watcher_command(app: App, lease_seconds: float, max_logins: int) -> None:
    """Hold an IMAP IDLE connection for each push account (property idle=true) and ask for a
    poll the moment the server announces new mail.

    Run any number of replicas: each account is watched by exactly one of them, and a replica
    that stops loses its accounts to the others within --lease-seconds. Workers do the polls;
    the scheduler still polls push accounts every idle_poll_interval as a safety net. Needs
    MAILPOLL_REDIS_URL.
    """
    from mailpoll import probes
    from mailpoll.runtime import Runtime
    from watcher.loop import WatcherOptions

    runtime = Runtime(app, allow_embedded=False)
    stop = stop_on_signals()
    options = WatcherOptions(lease_seconds=lease_seconds, max_logins=max_logins)
    watcher = runtime.watcher(options)
    probes.serve(app.settings, probes.watcher(runtime, watcher))
    try:
        watcher.run(stop)
    finally:
        runtime.close()
