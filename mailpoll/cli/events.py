"""`mailpoll events tail`: watch the events as they are published."""

from __future__ import annotations

import json
import signal
import threading
from typing import TYPE_CHECKING, Any

import click

from shared.events import TAIL_BINDING

if TYPE_CHECKING:
    from mailpoll.app import App


@click.group("events")
def group() -> None:
    """The events mailpoll publishes (topic exchange `mailpoll.events`)."""


@group.command("tail")
@click.option("--binding", default=TAIL_BINDING, show_default=True, help="routing-key pattern")
@click.option("--count", type=click.IntRange(min=1), help="stop after this many events")
@click.pass_obj
def tail_command(app: App, binding: str, count: int | None) -> None:
    """Print each event published from now on, one JSON line each, until Ctrl-C."""
    from mailpoll.runtime import events_target
    from shared.eventbus import tail

    stop = threading.Event()
    seen = 0

    def show(event: dict[str, Any]) -> None:
        nonlocal seen
        if count is not None and seen >= count:
            return  # the rest of the batch that brought the last one
        click.echo(json.dumps(event, ensure_ascii=False))
        seen += 1
        if count is not None and seen >= count:
            stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    tail(events_target(app.settings), show, stop, binding=binding)
