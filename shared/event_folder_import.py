"""Data dirs from before the event store: their `events/` folder is imported once, then set aside.

Earlier versions kept single-machine events in `<data dir>/events/` with kombu's filesystem
transport: bindings as JSON files in `control/`, one file per message and queue in
`messages/`. The durable queues found there, their bindings and the messages still waiting in
them move into the event store; private `events tail` queues are dropped (their processes
are gone). The folder is then renamed `events.imported`, kept for the operator to delete.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from shared.event_store import EventStore

log = logging.getLogger(__name__)
PRIVATE_PREFIX = "mailpoll.tail."


def import_events_folder(data_dir: Path, store_path: Path) -> None:
    """Move what the old folder holds into the store, once, whichever process gets to it."""
    old = data_dir / "events"
    if not (old / "control").is_dir():
        return
    claimed = data_dir / f"events.importing-{os.getpid()}"
    try:
        old.rename(claimed)  # atomic: one process imports, the others find nothing
    except OSError:
        return
    bindings = _bindings(claimed / "control")
    waiting = _messages(claimed / "messages", {queue for _, _, _, queue in bindings})
    store = EventStore(store_path)
    try:
        for queue in {queue for _, _, _, queue in bindings}:
            store.declare_queue(queue, auto_delete=False)
        for binding in bindings:
            store.bind(*binding)
        store.put_many(waiting)
    finally:
        store.close()
    kept = _free_name(data_dir / "events.imported")
    claimed.rename(kept)
    log.warning(
        "events: moved %d waiting events of %d queues from the old folder %s into %s;"
        " the old folder is now %s and can be deleted",
        len(waiting), len({b[3] for b in bindings}), old, store_path, kept,
    )  # fmt: skip


def _bindings(control: Path) -> list[tuple[str, str, str, str]]:
    """(exchange, routing key, pattern, queue) of every durable queue's binding."""
    found = []
    for file in sorted(control.glob("*.exchange")):
        try:
            table = json.loads(file.read_text())
        except (OSError, ValueError) as error:
            log.warning("events: skipped the unreadable old binding file %s: %s", file, error)
            continue
        exchange = file.name.removesuffix(".exchange")
        for routing_key, pattern, queue in table:
            if not queue.startswith(PRIVATE_PREFIX):
                found.append((exchange, routing_key, pattern, queue))
    return found


def _messages(folder: Path, queues: set[str]) -> list[tuple[str, str]]:
    """(queue, stored message) for the durable queues, oldest first (names start with ms)."""
    found = []
    for file in sorted(folder.glob("*.msg")):
        queue = file.name.partition(".")[2].removesuffix(".msg")
        if queue not in queues:
            continue
        try:
            payload = file.read_text()
            json.loads(payload)
        except (OSError, ValueError) as error:  # a half-written file of the old transport
            log.warning("events: skipped the unreadable old message file %s: %s", file, error)
            continue
        found.append((queue, payload))
    return found


def _free_name(path: Path) -> Path:
    number = 1
    candidate = path
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.name}.{number}")
    return candidate
