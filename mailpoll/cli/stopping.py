"""How the long-running commands stop: SIGTERM and a first Ctrl-C finish the work in flight,
a second Ctrl-C stops at once (exit code 130), as a kill would.

Stopping at once loses nothing: a chunk's files, events and ledger rows are written in that
order, so a chunk cut short is fetched again by the next poll, with the same file names and
event ids.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)
EXIT_INTERRUPTED = 128 + signal.SIGINT
AT_ONCE = (
    b"second Ctrl-C: stopped at once; the chunk in flight, if any, is fetched again by the "
    b"next poll, as after a kill\n"
)


def stop_on_signals(*, at_once: Callable[[], None] | None = None) -> threading.Event:
    """An event set by SIGTERM or Ctrl-C; `at_once` runs before a second Ctrl-C ends the
    process (a parent stops its children with it)."""
    stop = threading.Event()

    def handle(signum: int, _frame: Any) -> None:
        if signum == signal.SIGINT and stop.is_set():
            if at_once is not None:
                at_once()
            _exit_now()
        hint = " (Ctrl-C again stops at once)" if signum == signal.SIGINT else ""
        log.info("received %s: finishing the work in flight%s", signal.Signals(signum).name, hint)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop


def _exit_now() -> None:
    """Say why, then end without waiting for any thread; buffered output goes out first."""
    for stream in (sys.stdout, sys.stderr):
        # closed, or busy in the very write the signal interrupted
        with contextlib.suppress(OSError, ValueError, RuntimeError):
            stream.flush()
    os.write(2, AT_ONCE)
    os._exit(EXIT_INTERRUPTED)
