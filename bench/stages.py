"""Wall-clock time per poll stage, without a profiler's distortion: timers around each stage.

cProfile slows pure-Python code (the email parser, imapclient) far more than system calls
(fsync), so its shares mislead; these timers wrap the stage functions for one poll and put
the originals back afterwards.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import shared.db.ledger
import shared.eventbus
import shared.mail.imap
import shared.store
import workers.intake

# (label, owner, attribute): the functions one chunk of a poll goes through.
_STAGES: list[tuple[str, Any, str]] = [
    ("IMAP list_new (SEARCH + sizes/dates)", shared.mail.imap.ImapMailbox, "list_new"),
    ("IMAP UID FETCH BODY.PEEK[] (imapclient)", shared.mail.imap.ImapMailbox, "_fetch_chunk"),
    ("parse_metadata (email package)", workers.intake, "parse_metadata"),
    ("MessageStore.save (write, 2 fsyncs)", shared.store.MessageStore, "save"),
    ("EventPublisher.publish_many (kombu)", shared.eventbus.EventPublisher, "publish_many"),
    ("ledger.record_batch (ORM flush)", shared.db.ledger, "record_batch"),
]


def _timed(label: str, function: Callable[..., Any], spent: Counter[str]) -> Callable[..., Any]:
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
def stage_timers() -> Iterator[Counter[str]]:
    """Seconds spent per stage while the block runs."""
    spent: Counter[str] = Counter()
    originals = [(owner, name, getattr(owner, name)) for _label, owner, name in _STAGES]
    try:
        for (label, owner, name), (_, _, original) in zip(_STAGES, originals, strict=True):
            setattr(owner, name, _timed(label, original, spent))
        yield spent
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


def report(spent: Counter[str], total: float, messages: int) -> str:
    lines = [f"{'stage':<42} {'seconds':>8} {'us/msg':>7} {'share':>6}"]
    for label, _owner, _name in _STAGES:
        seconds = spent[label]
        lines.append(
            f"{label:<42} {seconds:8.2f} {seconds / messages * 1e6:7.0f} {seconds / total:6.1%}"
        )
    rest = total - sum(spent.values())
    lines.append(
        f"{'everything else':<42} {rest:8.2f} {rest / messages * 1e6:7.0f} {rest / total:6.1%}"
    )
    return "\n".join(lines)
