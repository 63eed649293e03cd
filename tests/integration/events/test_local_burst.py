"""Single-machine events under a burst: two `events tail` and a kombu consumer, all processes."""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.support.events import local_queues
from tests.support.processes import MAILPOLL, environment, wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[3]
EXAMPLE = ROOT / "docs" / "examples" / "consume_local_events.py"
HALF = 1000


class Readers:
    """The processes reading the data dir's events, their output kept in files."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.tmp_path = tmp_path
        self.env = env
        self.data_dir = Path(env["MAILPOLL_DATA_DIR"])
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        with (
            (self.tmp_path / f"{name}.out").open("ab") as out,
            (self.tmp_path / f"{name}.err").open("ab") as err,
        ):
            process = subprocess.Popen(argv, env=self.env, stdout=out, stderr=err, cwd=ROOT)
        self.processes.append(process)
        return process

    def tail(self, name: str, count: int) -> subprocess.Popen[bytes]:
        return self.start(name, [*MAILPOLL, "events", "tail", "--count", str(count)])

    def consumer(self, name: str) -> subprocess.Popen[bytes]:
        argv = [sys.executable, str(EXAMPLE), str(self.data_dir), "downstream"]
        return self.start(name, argv)

    def lines(self, name: str) -> list[str]:
        return (self.tmp_path / f"{name}.out").read_text().splitlines()

    def stderr(self, name: str) -> str:
        return (self.tmp_path / f"{name}.err").read_text()

    def tails(self) -> list[str]:
        return [q for q in local_queues(self.data_dir) if q.startswith("mailpoll.tail.")]

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait(10)


def publish(env: dict[str, str], first: int, count: int) -> list[tuple[float, list[str]]]:
    """Run the burst publisher (4 threads) to its end: (start time, ids) of every batch."""
    argv = [sys.executable, "-m", "tests.support.publish_events", str(first), str(count)]
    done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr.decode()
    return [(started, ids) for started, ids in map(json.loads, done.stdout.decode().splitlines())]


def spoil(data_dir: Path, queues: list[str]) -> None:
    """A row in each queue that is not a message at all, as a torn write would leave."""
    with contextlib.closing(sqlite3.connect(data_dir / "events.sqlite3", timeout=10)) as db, db:
        db.executemany(
            'INSERT INTO messages (queue, payload) VALUES (?, \'{"body": "half\')',
            [(q,) for q in queues],
        )


def test_a_burst_reaches_every_reader_once_and_a_durable_queue_waits_for_its_consumer(
    tmp_path: Path,
) -> None:
    env = environment(
        data_dir=str(tmp_path / "data"),
        database_url=f"sqlite:///{tmp_path / 'mailpoll.db'}",
        secret_key="x" * 44,
        log_level="WARNING",
    )
    readers = Readers(tmp_path, env)
    try:
        consumer = readers.consumer("consumer-1")
        wait_until(lambda: "downstream" in local_queues(readers.data_dir), 20, "the consumer")
        tails = [readers.tail(f"tail-{n}", 2 * HALF) for n in range(2)]
        wait_until(lambda: len(readers.tails()) == 2, 20, "two tails bound")
        spoil(readers.data_dir, readers.tails())

        first = publish(env, 0, HALF)
        late = readers.tail("tail-late", HALF)  # bound after the first half went out
        wait_until(lambda: len(readers.tails()) == 3, 20, "the third tail bound")
        wait_until(lambda: len(readers.lines("consumer-1")) >= HALF, 30, "the first half")
        consumer.send_signal(signal.SIGTERM)
        assert consumer.wait(20) == 0, readers.stderr("consumer-1")

        second = publish(env, HALF, HALF)  # while the durable queue's consumer is stopped
        for tail in tails:
            assert tail.wait(60) == 0
        assert late.wait(30) == 0
        readers.consumer("consumer-2")
        wait_until(lambda: len(readers.lines("consumer-2")) >= HALF, 30, "the second half")
    finally:
        readers.close()

    published = [event_id for _, ids in first + second for event_id in ids]
    assert len(set(published)) == 2 * HALF
    for n in range(2):
        got = Counter(json.loads(line)["id"] for line in readers.lines(f"tail-{n}"))
        assert set(got) == set(published), readers.stderr(f"tail-{n}")
        assert set(got.values()) == {1}
        assert readers.stderr(f"tail-{n}").count("skipped stored message") == 1
        assert "Traceback" not in readers.stderr(f"tail-{n}")
    late_got = Counter(json.loads(line)["id"] for line in readers.lines("tail-late"))
    assert set(late_got) == {event_id for _, ids in second for event_id in ids}
    assert set(late_got.values()) == {1}
    for n, half in ((1, first), (2, second)):
        got = Counter(line.split()[0] for line in readers.lines(f"consumer-{n}"))
        assert set(got) == {event_id for _, ids in half for event_id in ids}
        assert set(got.values()) == {1}
