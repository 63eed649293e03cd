"""`mailpoll scheduler|worker|run|poll`: the processes that poll, and one poll by hand."""

from __future__ import annotations

import json
import logging
import multiprocessing
import threading
from typing import TYPE_CHECKING, Any

import click

from mailpoll import logs
from mailpoll.cli import run_output
from mailpoll.cli.stopping import stop_on_signals
from shared.errors import MailpollError
from shared.hostlock import HostLock

if TYPE_CHECKING:  # imported by the commands that run: `mailpoll --help` needs none of them
    from mailpoll.app import App
    from mailpoll.webserver import Beside

log = logging.getLogger(__name__)
SHUTDOWN_GRACE_MS = 60_000  # a batch in flight finishes; past this the next poll redoes it


@click.command("scheduler")
@click.option("--tick", default=1.0, show_default=True, help="seconds between scheduling rounds")
@click.pass_obj
def scheduler_command(app: App, tick: float) -> None:
    """Enqueue a poll for each enabled inbound account when its interval is due.

    Several replicas may run: each due poll is still enqueued once. Needs MAILPOLL_REDIS_URL.
    """
    from mailpoll import probes
    from mailpoll.runtime import Runtime

    runtime = Runtime(app, allow_embedded=False)
    stop = stop_on_signals()
    probes.serve(app.settings, probes.scheduler(runtime, tick))
    try:
        runtime.scheduler().run(stop, period=tick)
    finally:
        runtime.close()


@click.command("worker")
@click.option("--processes", default=1, show_default=True, help="worker processes")
@click.option("--threads", default=4, show_default=True, help="threads per process")
@click.option(
    "--grace",
    default=SHUTDOWN_GRACE_MS / 1000,
    show_default=True,
    type=click.FloatRange(min=1),
    help="seconds the polls in flight get to finish after SIGTERM (see poll_budget_seconds)",
)
@click.pass_obj
def worker_command(app: App, processes: int, threads: int, grace: float) -> None:
    """Run poll jobs from the broker. Needs MAILPOLL_REDIS_URL (or MAILPOLL_BROKER_URL)."""
    if processes <= 1:
        _work(app, threads, grace)
        return
    from mailpoll import health, probes

    # Each child writes its metrics into this directory; the parent serves their sum.
    figures = health.MultiprocessDir() if app.settings.metrics_port else None
    children = [
        multiprocessing.get_context("spawn").Process(target=_child, args=(threads, grace))
        for _ in range(processes)
    ]
    if figures is not None:
        probes.serve(app.settings, probes.worker_processes(app, children, figures))
    for child in children:
        child.start()

    def kill_children() -> None:
        for child in children:
            if child.pid is not None:
                child.kill()

    stop = stop_on_signals(at_once=kill_children)
    stop.wait()
    for child in children:
        if child.pid is not None:
            child.terminate()  # SIGTERM: each child finishes its work in flight
    for child in children:
        child.join()
    if figures is not None:
        figures.remove()


def _child(threads: int, grace: float) -> None:
    """A worker process of `--processes N`: a fresh interpreter, configured like the parent."""
    from mailpoll.app import App
    from shared.settings import Settings

    settings = Settings()
    logs.configure(settings)
    _work(App(settings), threads, grace, serve_probes=False)  # the parent serves them


def _work(app: App, threads: int, grace: float, *, serve_probes: bool = True) -> None:
    from mailpoll import probes
    from mailpoll.runtime import Runtime

    runtime = Runtime(app, allow_embedded=False)
    worker = runtime.worker(threads=threads)
    if serve_probes:
        probes.serve(app.settings, probes.worker(runtime, worker))
    stop = stop_on_signals()
    worker.start()
    log.info("worker started with %d thread(s)", threads)
    stop.wait()
    runtime.stopping.set()  # polls in flight hand over after their chunk
    worker.stop(timeout=int(grace * 1000))
    runtime.close()


@click.command("run")
@click.option("--threads", default=4, show_default=True, help="worker threads")
@click.option("--quiet", is_flag=True, help="do not print each event")
@click.option("--json", "as_json", is_flag=True, help="print each whole event as a JSON line")
@click.option("--no-web", is_flag=True, help="do not serve the admin API (MAILPOLL_WEB_PORT)")
@click.pass_obj
def run_command(app: App, threads: int, quiet: bool, as_json: bool, no_web: bool) -> None:
    """Scheduler, worker and watcher in one process, on the embedded defaults: no Redis server
    or broker to install. Prints a short line per message received or sent (--json: the whole
    event)."""
    from mailpoll import probes
    from mailpoll.runtime import Runtime

    line = run_output.json_line if as_json else run_output.event_line

    def show(routing_key: str, event: dict[str, Any]) -> None:
        click.echo(line(routing_key, event))

    instance = _one_instance(app)
    runtime = Runtime(app, allow_embedded=True, on_published=None if quiet else show)
    stop = stop_on_signals()
    worker = runtime.worker(threads=threads)
    thread = threading.Thread(target=runtime.scheduler().run, args=(stop,), daemon=True)
    watcher = runtime.watcher()
    watching = threading.Thread(target=watcher.run, args=(stop,), daemon=True)
    probes.serve(app.settings, probes.everything(runtime, worker, watcher, thread))
    worker.start()
    thread.start()
    watching.start()  # push: IDLE for the accounts with idle=true
    click.echo(run_output.started(app, runtime), err=True)
    web = None if no_web else _serve_web(app)
    with app.accounts() as service:
        if not any(a.type == "inbound" and a.enabled for a in service.list()):
            click.echo(run_output.no_account_hint(app), err=True)
    stop.wait()
    runtime.stopping.set()  # polls in flight hand over after their chunk
    if web is not None:
        web.stop()
    thread.join()
    watching.join()
    worker.stop(timeout=SHUTDOWN_GRACE_MS)
    runtime.close()
    if instance is not None:
        instance.release()


def _serve_web(app: App) -> Beside | None:
    """The admin API beside the polling. A port that is taken is one warning line: polling,
    what `run` is for, goes on without the API."""
    from mailpoll.webserver import Beside

    for name in ("uvicorn.error", "web.access"):  # the terminal shows mail, not requests
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        web = Beside.start(app)
    except MailpollError as error:
        click.echo(f"warning: {error}; the admin API is not served", err=True)
        return None
    click.echo(
        f"console on {web.url}/ and admin API on {web.url}/api (documentation at "
        f"{web.url}/api/docs)",
        err=True,
    )
    if not _has_admin(app):
        click.echo(run_output.no_admin_hint(app), err=True)
    return web


def _has_admin(app: App) -> bool:
    from shared.admins import AdminUsers

    with app.database.session() as session:
        return bool(AdminUsers(session, actor=app.actor).all())


def _one_instance(app: App) -> HostLock | None:
    """With an embedded Redis, one `run` per data dir: a second would poll every account again
    beside the first (its Redis cannot see the first one's locks). With a Redis server, runs
    share its locks and may be many."""
    if app.settings.redis_url:
        return None
    instance = HostLock(app.data_dir.ensure(), "run")
    if not instance.acquire():
        raise MailpollError(
            f"mailpoll is already running on the data dir {app.settings.data_dir.resolve()} "
            f"(pid {instance.holder()}): stop it first, or share a Redis server "
            "(MAILPOLL_REDIS_URL) to run several"
        )
    return instance


@click.command("poll")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="print JSON for scripts")
@click.pass_obj
def poll_command(app: App, name: str, as_json: bool) -> None:
    """Poll one account now, in the foreground, and print what it did."""
    from mailpoll.runtime import Runtime
    from workers.poll import poll_account

    with app.accounts() as service:
        account = service.get(name)
    runtime = Runtime(app, allow_embedded=True, send_reports_now=True)
    try:
        assert account.id is not None
        result = poll_account(account.id, runtime.poll_deps)
    finally:
        runtime.close()
    tally = result.tally
    summary = {
        "account": result.account,
        "outcome": result.outcome,
        "announced": tally.announced,
        "ignored": tally.ignored,
        "dead_lettered": tally.dead,
        "not_repeated": tally.repeated,
        "server_actions": tally.acted,
        "more_waiting": tally.more_waiting,
        "error" if result.outcome == "failed" else "reason": result.error,
    }
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        for key, value in summary.items():
            if value not in (None, 0, False) or key in ("outcome", "announced"):
                click.echo(f"{key}: {value}")
    if result.outcome in ("failed", "skipped"):  # busy: the running poller takes the mail
        raise click.exceptions.Exit(1)
