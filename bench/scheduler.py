"""Scheduler scale: N enabled accounts at one interval, real `mailpoll scheduler` replicas on
PostgreSQL and Redis; the lag between due time and enqueue, and the CPU it takes.

    .venv/bin/python bench/scheduler.py [--accounts 100000] [--interval 60] [--replicas 1]
        [--seconds 200]

Run on demand, not in CI (see bench/README.md). Each replica logs, once a minute, how many
polls it enqueued and how late (p50, p99, max behind the due time); the first minute holds
the cold start (the whole configuration read, first polls spread over one interval) and is
reported apart. CPU is read from /proc for each replica over the steady minutes. The poll
queue and the queued-poll markers are emptied as they fill (no worker runs), which costs Redis,
not the scheduler.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis
import sqlalchemy as sa

from bench.poll_throughput import usage
from shared import redis_keys
from shared.db.database import Database
from shared.db.models import Account
from shared.secrets import new_key
from tests.support.postgres import drop_database, fresh_database, postgres_admin_url
from tests.support.processes import MailpollProcess, environment
from tests.support.redis_server import RedisServer

_REPORT = re.compile(
    r"(\d+) poll\(s\) enqueued in (\d+) s, lag behind due time p50 (\d+) ms, p99 (\d+) ms, "
    r"max (\d+) ms"
)


def add_accounts(database: Database, count: int, interval: int) -> None:
    """`count` enabled inbound accounts, inserted in bulk (the account service checks each
    one and would take minutes)."""
    now = datetime.now(UTC)
    rows = [
        {
            "name": f"bench{number}",
            "enabled": True,
            "protect_during_import": False,
            "type": "inbound",
            "host": "imap.example.com",
            "protocol": "imap",
            "encryption": "ssl",
            "use_default_port": True,
            "port": 993,
            "auth_type": "local",
            "login": f"user{number}",
            "polling_interval": interval,
            "properties": "",
            "delete_read_messages": False,
            "debug": False,
            "description": "",
            "created_by": "bench",
            "created_at": now,
            "modified_by": "bench",
            "modified_at": now,
        }
        for number in range(count)
    ]
    with database.session() as session:
        for start in range(0, count, 10_000):
            session.execute(sa.insert(Account), rows[start : start + 10_000])


def drain(client: redis.Redis) -> None:
    """Drop what the scheduler enqueued, and its queued-poll markers, as workers taking the
    jobs would (no worker runs here): each due poll is enqueued again at its next due time."""
    queue = f"dramatiq:{redis_keys.POLL_QUEUE}"
    client.delete(queue, f"{queue}.msgs")
    markers = list(client.scan_iter(redis_keys.poll_enqueued(0)[:-1] + "*", count=10_000))
    for start in range(0, len(markers), 10_000):
        client.delete(*markers[start : start + 10_000])


def reports(log: str) -> list[tuple[int, int, int, int, int]]:
    """(polls, seconds, p50 ms, p99 ms, max ms) of each lag report in a replica's log."""
    return [tuple(int(group) for group in found.groups()) for found in _REPORT.finditer(log)]  # type: ignore[misc]


def run(args: argparse.Namespace, root: Path) -> None:
    with contextlib.ExitStack() as stack:
        redis_server = RedisServer()
        stack.callback(redis_server.cleanup)
        redis_server.start()
        admin = postgres_admin_url()
        url = fresh_database(admin)
        stack.callback(drop_database, admin, url)
        database = Database(url)
        stack.callback(database.dispose)
        database.upgrade()
        started = time.perf_counter()
        add_accounts(database, args.accounts, args.interval)
        print(f"setup (not timed): {args.accounts:,} accounts in "
              f"{time.perf_counter() - started:.1f} s", flush=True)  # fmt: skip
        env = environment(
            database_url=url, redis_url=redis_server.url, secret_key=new_key(),
            data_dir=str(root / "data"), log_level="INFO",
        )  # fmt: skip
        replicas = []
        for number in range(args.replicas):
            process = MailpollProcess(["scheduler"], env, root / f"scheduler-{number}.log")
            stack.callback(process.kill)
            replicas.append(process.start())
        client = redis.Redis.from_url(redis_server.url)
        stack.callback(client.close)
        begin = time.monotonic()
        warm: list[float] = []
        while time.monotonic() - begin < args.seconds:
            time.sleep(1.0)
            drain(client)
            if not warm and time.monotonic() - begin >= 65:  # after the first report
                warm = [usage(p.process.pid)[0] for p in replicas if p.process is not None]
                warm_at = time.monotonic()
        cpu = [usage(p.process.pid)[0] for p in replicas if p.process is not None]
        steady = time.monotonic() - warm_at
        for process in replicas:
            process.stop()
        _print(args, replicas, warm, cpu, steady)


def _print(
    args: argparse.Namespace, replicas: list[MailpollProcess], warm: list[float],
    cpu: list[float], steady: float,
) -> None:  # fmt: skip
    print(f"\n{args.accounts:,} accounts every {args.interval} s "
          f"(~{args.accounts / args.interval:,.0f} polls/s), {args.replicas} replica(s), "
          f"PostgreSQL + Redis")  # fmt: skip
    for number, process in enumerate(replicas):
        found = reports(process.log())
        if not found:
            print(f"replica {number}: no lag report:\n{process.log()[-2000:]}")
            continue
        first, rest = found[0], found[1:]
        print(f"replica {number}: first minute (cold start): {first[0]:,} polls, "
              f"p50 {first[2]} ms, p99 {first[3]} ms, max {first[4]} ms")  # fmt: skip
        for polls, seconds, p50, p99, most in rest:
            print(f"replica {number}: {polls:,} polls in {seconds} s ({polls / seconds:,.0f}/s), "
                  f"lag p50 {p50} ms, p99 {p99} ms, max {most} ms")  # fmt: skip
        share = (cpu[number] - warm[number]) / steady
        print(f"replica {number}: CPU after the first minute {share:.1%} of one core")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--interval", type=int, default=60, help="polling interval, seconds")
    parser.add_argument("--replicas", type=int, default=1, help="mailpoll scheduler processes")
    parser.add_argument("--seconds", type=float, default=200.0, help="how long to run them")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="mailpoll-bench-scheduler-"))
    try:
        run(args, root)
    except KeyboardInterrupt:
        print("interrupted: servers stopped, temporary files removed", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
