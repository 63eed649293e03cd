"""Wall-clock time per poll stage, without a profiler's distortion: timers around each stage.

cProfile slows pure-Python code (the email parser, imapclient) far more than system calls
(fsync), so its shares mislead; these timers wrap the stage functions for one poll and put
the originals back afterwards.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import shared.db.ledger
import shared.eventbus
import shared.events
import shared.mail.imap
import shared.mail.parse_pool
import shared.store

# (label, owner, attribute): the functions one chunk of a poll goes through. An attribute the
# code no longer has is skipped, so the same timers measure older and newer pipelines.
_STAGES: list[tuple[str, Any, str]] = [
    ("IMAP list_new (SEARCH + sizes/dates)", shared.mail.imap.ImapMailbox, "list_new"),
    ("IMAP UID FETCH BODY.PEEK[] (imapclient)", shared.mail.imap.ImapMailbox, "_fetch_chunk"),
    ("parse_metadata", shared.mail.parse_pool, "parse_metadata"),
    ("MessageStore.save_many (files, syncfs)", shared.store.MessageStore, "save_many"),
    ("build_received_event", shared.events, "build_received_event"),
    ("EventPublisher.publish_many (kombu)", shared.eventbus.EventPublisher, "publish_many"),
    ("ledger.record_batch", shared.db.ledger, "record_batch"),
]


def _timed(
    label: str, function: Callable[..., Any], spent: defaultdict[str, float]
) -> Callable[..., Any]:
    if label.startswith("IMAP UID FETCH"):  # a generator: the fetch runs before the first item

        @functools.wraps(function)
        def fetch(*args: Any, **kwargs: Any) -> Iterator[Any]:
            started = time.perf_counter()
            items = list(function(*args, **kwargs))
            spent[label] += time.perf_counter() - started
            yield from items

        return fetch

    @functools.wraps(function)
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[label] += time.perf_counter() - started

    return timed


@contextlib.contextmanager
def stage_timers() -> Iterator[defaultdict[str, float]]:
    """Seconds spent per stage while the block runs."""
    spent: defaultdict[str, float] = defaultdict(float)
    present = [stage for stage in _STAGES if hasattr(stage[1], stage[2])]
    originals = [(owner, name, getattr(owner, name)) for _label, owner, name in present]
    try:
        for (label, owner, name), (_, _, original) in zip(present, originals, strict=True):
            setattr(owner, name, _timed(label, original, spent))
        yield spent
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


def report(spent: defaultdict[str, float], total: float, messages: int) -> str:
    lines = [f"{'stage':<42} {'seconds':>8} {'us/msg':>7} {'share':>6}"]
    for label, _owner, _name in _STAGES:
        if label not in spent:
            continue
        seconds = spent[label]
        lines.append(
            f"{label:<42} {seconds:8.2f} {seconds / messages * 1e6:7.0f} {seconds / total:6.1%}"
        )
    rest = total - sum(spent.values())
    lines.append(
        f"{'everything else':<42} {rest:8.2f} {rest / messages * 1e6:7.0f} {rest / total:6.1%}"
    )
    return "\n".join(lines)
