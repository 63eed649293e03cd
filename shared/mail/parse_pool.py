"""Where message parsing runs: inline, or in a pool of processes beside the poll.

Reading a chunk's metadata is a good part of a poll's CPU (see bench/README.md). With a pool,
a chunk is parsed in other processes while the poll writes the same chunk's files.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Protocol

from shared.mail.parse import MessageMetadata, parse_metadata

Pending = Callable[[], list[MessageMetadata]]


class Parser(Protocol):
    def submit(self, raws: Sequence[bytes]) -> Pending:
        """Start parsing; the returned call gives the metadata, in order, when it is done."""
        ...

    def close(self) -> None: ...


class InlineParser:
    """Parses in the caller's thread, when the result is asked for."""

    def submit(self, raws: Sequence[bytes]) -> Pending:
        return lambda: [parse_metadata(raw) for raw in raws]

    def close(self) -> None:
        return None


class PoolParser:
    """Parses in `processes` worker processes (spawned, so safe beside threads)."""

    def __init__(self, processes: int) -> None:
        self._processes = processes
        self._pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"))

    def submit(self, raws: Sequence[bytes]) -> Pending:
        if not raws:
            return list
        size = -(-len(raws) // self._processes)  # ceiling: one slice per process
        futures = [
            self._pool.submit(parse_all, list(raws[start : start + size]))
            for start in range(0, len(raws), size)
        ]
        return lambda: [metadata for future in futures for metadata in future.result()]

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def parse_all(raws: list[bytes]) -> list[MessageMetadata]:
    return [parse_metadata(raw) for raw in raws]


def make_parser(processes: int) -> Parser:
    return PoolParser(processes) if processes > 0 else InlineParser()
