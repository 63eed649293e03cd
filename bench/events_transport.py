"""Event transports compared: how fast mailpoll publishes, and whether a reader keeps up.

Run on demand, not in CI (see bench/README.md):

    .venv/bin/python bench/events_transport.py [--events 5000] [--batch 100] [--repeat 3]

Publishes `--events` received events (about 1 KB of JSON each) in batches of `--batch` with
mailpoll's EventPublisher to one bound durable queue, `--repeat` times per transport,
alternating the transports, and prints the median rates and the local/Redis ratio:
- local: the SQLite event store in a data dir (what single-machine mode uses);
- redis: a throwaway redis-server;
- filesystem: kombu's filesystem transport (what single-machine mode used before);
- sqla: kombu's SQLAlchemy transport on an SQLite file in WAL mode. It keeps bindings in
  each process's memory, so here the queue is bound through the publishing connection
  itself; a queue bound by another process would get nothing.
Then how fast a consumer drains a queue that holds all the events, and a burst read: one
reader process drains the queue while the events are published, and the script counts what
it received and the errors it met (the filesystem transport's reader can open a message file
before its writer finished it).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import kombu

from shared.event_connection import EventsURL
from shared.event_transport_local import local_events_url
from shared.eventbus import EventPublisher
from shared.events import EXCHANGE
from tests.support.publish_events import received
from tests.support.redis_server import RedisServer

QUEUE = "bench.downstream"


def filesystem(root: Path) -> EventsURL:
    folders = {"data_folder_in": root / "messages", "control_folder": root / "control"}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    options = {key: str(value) for key, value in folders.items()}
    return EventsURL("filesystem://", {**options, "data_folder_out": options["data_folder_in"]})


@contextmanager
def bind(target: EventsURL) -> Iterator[Any]:
    """A kombu connection with the bench queue bound on it; the queue is deleted at the end.

    Deleting matters: kombu's filesystem transport remembers bindings per process, and would
    not write a later run's binding into that run's new folder (nothing would be routed).
    """
    with kombu.Connection(
        target.url or None, transport=target.transport, transport_options=target.transport_options
    ) as connection:
        exchange = kombu.Exchange(EXCHANGE, type="topic", durable=True)
        queue = kombu.Queue(QUEUE, exchange, "message.received.#")(connection.default_channel)
        queue.declare()
        try:
            yield connection
        finally:
            queue.delete()


def publish_all(target: EventsURL, events: list[dict[str, Any]], batch: int) -> float:
    """Seconds to publish every event, batch by batch, as a poll does chunk by chunk."""
    with EventPublisher(target) as publisher:
        publisher.publish_many(events[:1])  # connection and declarations out of the timing
        started = time.perf_counter()
        for start in range(1, len(events), batch):
            publisher.publish_many(events[start : start + batch])
        return time.perf_counter() - started


def publish_sqla(target: EventsURL, events: list[dict[str, Any]], batch: int) -> float:
    """The same through one kombu connection that both binds and publishes (see the top)."""
    with bind(target) as connection:
        producer = kombu.Producer(connection.default_channel)
        exchange = kombu.Exchange(EXCHANGE, type="topic", durable=True)
        bodies = [(json.dumps(e), f"message.received.{e['data']['account']}") for e in events]
        started = time.perf_counter()
        for start in range(0, len(bodies), batch):
            with producer.batch():
                for body, key in bodies[start : start + batch]:
                    producer.publish(body, exchange=exchange, routing_key=key, retry=True)
        return time.perf_counter() - started


@contextmanager
def transports(root: Path) -> Iterator[dict[str, Callable[[str], EventsURL]]]:
    redis_server = RedisServer()
    redis_server.start()
    try:
        yield {
            "local": lambda run: local_events_url(root / run),
            "redis": lambda run: EventsURL(redis_server.url),
            "filesystem": lambda run: filesystem(root / run),
            "sqla": lambda run: EventsURL(f"sqla+sqlite:///{root / run}.sqlite3"),
        }
    finally:
        redis_server.cleanup()


def measure(name: str, target: EventsURL, events: list[dict[str, Any]], batch: int) -> float:
    if name == "sqla":
        return len(events) / publish_sqla(target, events, batch)
    with bind(target):
        return len(events) / publish_all(target, events, batch)


def drain_backlog(target: EventsURL, events: list[dict[str, Any]], batch: int) -> float:
    """Events per second a consumer takes from a queue that holds all of them already."""
    with bind(target) as connection:
        publish_all(target, events, batch)
        exchange = kombu.Exchange(EXCHANGE, type="topic", durable=True)
        queue = kombu.Queue(QUEUE, exchange, "message.received.#")
        got = 0

        def on_message(message: Any) -> None:
            nonlocal got
            got += 1
            message.ack()

        started = time.perf_counter()
        with connection.Consumer(queue, on_message=on_message):
            while got < len(events):
                connection.drain_events(timeout=30)
        return got / (time.perf_counter() - started)


READER = """
import json, sys, time, kombu
sys.path.insert(0, sys.argv[1])
target = json.loads(sys.argv[2])
got, errors = 0, []
with kombu.Connection(target["url"] or None, transport=target["transport"],
                      transport_options=target["options"]) as connection:
    queue = kombu.Queue(sys.argv[3], kombu.Exchange("mailpoll.events", type="topic",
                        durable=True), "message.received.#")
    def on_message(message):
        global got
        got += 1
        message.ack()
    with connection.Consumer(queue, on_message=on_message):
        print("bound", flush=True)
        idle = time.monotonic()
        while time.monotonic() - idle < 3:
            try:
                connection.drain_events(timeout=0.5)
                idle = time.monotonic()
            except TimeoutError:
                pass
            except Exception as error:
                errors.append(repr(error)[:120])
                idle = time.monotonic()
print(json.dumps({"received": got, "errors": errors}))
"""


def burst_read(target: EventsURL, events: list[dict[str, Any]], batch: int) -> dict[str, Any]:
    """Publish while another process reads; what that reader received and what it met."""
    spec = {"url": target.url, "transport": target.transport, "options": target.transport_options}
    argv = [sys.executable, "-c", READER, str(Path(__file__).resolve().parents[1])]
    with subprocess.Popen(
        [*argv, json.dumps(spec), QUEUE], stdout=subprocess.PIPE, text=True
    ) as reader:
        assert reader.stdout is not None
        assert reader.stdout.readline().strip() == "bound"
        publish_all(target, events, batch)
        result: dict[str, Any] = json.loads(reader.stdout.read())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    events = [received(uid) for uid in range(args.events)]
    print(f"{args.events} events of {len(json.dumps(events[0]))} bytes, batches of {args.batch}")
    root = Path(tempfile.mkdtemp(prefix="mailpoll-bench-events-"))
    rates: dict[str, list[float]] = {}
    try:
        with transports(root) as make:
            for run in range(args.repeat):
                for name, target in make.items():
                    rate = measure(name, target(f"{name}-{run}"), events, args.batch)
                    rates.setdefault(name, []).append(rate)
                    print(f"  run {run + 1} {name:<10} {rate:>9,.0f} events/s", flush=True)
            medians = {name: statistics.median(values) for name, values in rates.items()}
            print("\nmedian publish rate (events/s):")
            for name, rate in medians.items():
                print(f"  {name:<10} {rate:>9,.0f}")
            print(f"ratio local / redis: {medians['local'] / medians['redis']:.2f}")
            print("\na consumer draining a queue that holds them all (events/s):")
            for name in ("local", "redis", "filesystem"):
                rate = drain_backlog(make[name](f"{name}-backlog"), events, args.batch)
                print(f"  {name:<10} {rate:>9,.0f}", flush=True)
            print("\nburst read (a reader process drains while the events are published):")
            for name in ("local", "filesystem"):
                result = burst_read(make[name](f"{name}-burst"), events, args.batch)
                errors = result["errors"]
                print(f"  {name:<10} received {result['received']} of {len(events)},"
                      f" {len(errors)} errors {errors[:1]}")  # fmt: skip
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
