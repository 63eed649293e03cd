"""The poll in the benchmark's own process, plain and under cProfile: where the time goes.

The collaborators are the worker's own (real EventPublisher to Redis, real MessageStore with
its fsyncs, the SQLite or PostgreSQL ledger); only the follow-up enqueue and the backoff are
no-ops, as one poll takes the whole mailbox.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import time

import redis

from bench.harness import Mailpoll, Run, add_account
from bench.stages import report, stage_timers
from shared.clock import utcnow
from shared.eventbus import EventPublisher
from shared.keystore import EnvironmentKeystore
from shared.secrets import SecretBox
from shared.store import MessageStore
from workers.credentials import CredentialSource
from workers.mailbox import opener
from workers.poll import PollDeps, poll_account


def _deps(run: Run, client: redis.Redis, publisher: EventPublisher) -> PollDeps:
    box = SecretBox(run.key)
    return PollDeps(
        database=run.database,
        redis=client,
        store=MessageStore(run.upload_dir),
        publish=publisher.publish_many,
        open_mailbox=opener(
            CredentialSource(
                database=run.database, secrets=lambda: box, keystore=EnvironmentKeystore()
            )
        ),
        clock=utcnow,
        enqueue_next=lambda _account_id: None,
        postpone=lambda _account_id, _until: None,
    )


def _poll(
    mailpoll: Mailpoll, number: int, user: str, password: str, messages: int,
    profiler: cProfile.Profile | None,
) -> float:  # fmt: skip
    """One fresh account polled once; returns the seconds the poll took."""
    run = mailpoll.new_run(number)
    client = redis.Redis.from_url(mailpoll.redis_url)
    publisher = EventPublisher(mailpoll.events_url)
    try:
        account_id = add_account(run, user, password, messages=messages)
        deps = _deps(run, client, publisher)
        with run.consumer() as consumer:
            started, cpu = time.perf_counter(), os.times()
            if profiler is None:
                result = poll_account(account_id, deps)
            else:
                result = profiler.runcall(poll_account, account_id, deps)
            elapsed = time.perf_counter() - started
            done = os.times()
            user, system = done.user - cpu.user, done.system - cpu.system
            print(f"poll: {elapsed:.2f} s wall, CPU of this process {user:.2f} s user + "
                  f"{system:.2f} s system ({(user + system) / elapsed:.0%} of one core; "
                  f"{(user + system) / messages * 1e6:,.0f} us/msg)", flush=True)  # fmt: skip
            if result.outcome != "polled" or result.tally.announced != messages:
                raise RuntimeError(f"the poll did not take everything: {result}")
            run.check_events(consumer, messages)
    finally:
        publisher.close()
        client.close()
        run.cleanup()
    return elapsed


def profile_poll(
    mailpoll: Mailpoll, user: str, password: str, messages: int, top: int, raw_rate: float
) -> None:
    """Print the in-process rate, then the profiled one and its top `top` entries."""
    with stage_timers() as spent:
        plain = _poll(mailpoll, 1, user, password, messages, None)
    print(f"in-process poll, no profiler: {messages / plain:8,.0f} msg/s ({plain:.2f} s), "
          f"ratio to raw {messages / plain / raw_rate:.2f}", flush=True)  # fmt: skip
    print(report(spent, plain, messages), flush=True)
    profiler = cProfile.Profile()
    profiled = _poll(mailpoll, 2, user, password, messages, profiler)
    print(f"in-process poll, cProfile:    {messages / profiled:8,.0f} msg/s ({profiled:.2f} s)")
    for order, count in (("cumulative", top), ("tottime", top)):
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text).strip_dirs().sort_stats(order)
        stats.print_stats(count)
        print(f"\n--- top {count} by {order} ---")
        table = text.getvalue()
        print(table[table.index("   ncalls") :].rstrip())
