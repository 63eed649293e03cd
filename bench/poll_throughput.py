"""Poll throughput: raw imapclient UID FETCH against a real mailpoll worker, one mailbox.

Run on demand, not in CI (see bench/README.md):

    .venv/bin/python bench/poll_throughput.py [--messages 10000] [--size 20000] [--tls]

Starts a throwaway Dovecot and Redis, fills one INBOX, then alternates the two measurements
`--repeat` times and prints both median rates and their ratio. `--profile` polls in-process
under cProfile instead of running the worker subprocess.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import signal
import ssl
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis
from dramatiq.brokers.redis import RedisBroker
from imapclient import IMAPClient

from bench import mailbox_fill
from bench.harness import Mailpoll, add_account
from bench.inprocess import profile_poll
from shared import jobs
from tests.support.dovecot import DovecotServer
from tests.support.processes import MailpollProcess
from tests.support.redis_server import RedisServer

USER, PASSWORD = "bench", "secret"
WAIT_SECONDS = 600.0  # longest a mailpoll run may take before it counts as stuck


@dataclass(frozen=True)
class Rate:
    """Messages and bytes moved in `seconds`; the CPU seconds and peak RSS it took, if known."""

    messages: int
    nbytes: int
    seconds: float
    cpu: float | None = None
    rss: int | None = None

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds

    def __str__(self) -> str:
        mib = self.nbytes / self.seconds / 2**20
        text = f"{self.per_second:8,.0f} msg/s {mib:6.1f} MiB/s ({self.seconds:.2f} s)"
        if self.cpu is not None:
            text += f", CPU {self.cpu / self.messages * 1e6:,.0f} us/msg"
        if self.rss is not None:
            text += f", peak RSS {self.rss / 2**20:,.0f} MiB"
        return text


def _tree(pid: int) -> list[int]:
    """The process and all its descendants (Linux /proc)."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in task.read_text().split():
            found += _tree(int(child))
    return found


def usage(pid: int) -> tuple[float, int]:
    """CPU seconds (user + system) of a process tree, and the largest peak RSS in it."""
    cpu, rss = 0.0, 0
    for each in _tree(pid):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{each}/stat").read_text().rpartition(")")[2].split()
            cpu += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            status = Path(f"/proc/{each}/status").read_text()
            peak = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
            rss = max(rss, int(peak.split()[1]) * 1024)
    return cpu, rss


def file_ceiling(root: Path, messages: int, size: int) -> Rate:
    """How fast this file system takes new files of the messages' size, written and closed
    in one thread (no fsync): the ceiling of any store that keeps a file per message, which
    is what mailpoll's upload dir is. The files stay until the benchmark ends (deleting them
    now would slow the next file creations on a journal-less ext4)."""
    folder = Path(tempfile.mkdtemp(prefix="ceiling-", dir=root))
    data = b"x" * size
    started = time.perf_counter()
    for number in range(messages):
        fd = os.open(folder / f"{number}.eml", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, data)
        os.close(fd)
    return Rate(messages, messages * size, time.perf_counter() - started)


def raw_fetch(dovecot: DovecotServer, *, tls: bool, batch: int, quiet: bool = False) -> Rate:
    """Log in, SELECT, SEARCH ALL and UID FETCH BODY.PEEK[] in batches: the client's ceiling.

    imapclient turns imaplib's debug output on (level 5, routed to a logger), and imaplib then
    formats a repr of every response, bodies included, even with logging off. `quiet` turns
    it off, as mailpoll's IMAP client does (shared/mail/wire.py): the faster, fairer ceiling.
    """
    context = ssl.create_default_context(cafile=str(dovecot.ca_file)) if tls else None
    port = dovecot.imaps_port if tls else dovecot.imap_port
    started, cpu = time.perf_counter(), time.process_time()
    client = IMAPClient(dovecot.host, port=port, ssl=tls, ssl_context=context, timeout=60)
    count = nbytes = 0
    if quiet:
        client._imap.debug = 0
    try:
        client.login(USER, PASSWORD)
        client.select_folder("INBOX", readonly=True)
        uids = client.search("ALL")
        for start in range(0, len(uids), batch):
            answer = client.fetch(uids[start : start + batch], [b"BODY.PEEK[]"])
            count += len(answer)
            nbytes += sum(len(item[b"BODY[]"]) for item in answer.values())
    finally:
        client.logout()
    return Rate(count, nbytes, time.perf_counter() - started, time.process_time() - cpu)


def _poll_started(log: str) -> float | None:
    """Epoch seconds of the worker's first `poll started` line (local-time asctime)."""
    for line in log.splitlines():
        if "poll started" in line:
            stamp = " ".join(line.split(" ", 2)[:2])
            return time.mktime(time.strptime(stamp.split(",")[0], "%Y-%m-%d %H:%M:%S")) + (
                int(stamp.split(",")[1]) / 1000
            )
    return None


def _wait(condition: Callable[[], bool], what: str, alive: Callable[[], str | None]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        problem = alive()
        if problem is not None:
            raise RuntimeError(f"while waiting for {what}: {problem}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} within {WAIT_SECONDS:.0f} s")
        time.sleep(0.005)


def mailpoll_run(
    mailpoll: Mailpoll,
    number: int,
    messages: int,
    *,
    accounts: int = 1,
    processes: int = 1,
    running: bool = False,
) -> tuple[Rate, Rate]:
    """`accounts` fresh accounts (one mailbox each) polled by `mailpoll worker --processes
    {processes} --threads 1`.

    Returns (start -> last event, first `poll started` -> last event), with the worker's CPU
    time and peak RSS. The start is the worker's spawn, with the poll job already queued by a
    scheduler; with `running`, it is the moment the poll jobs are enqueued for a worker that
    was started (and is waiting for work) beforehand, as in production. An event counts when
    it is in the consumer's bound queue on the events broker (LLEN): counting it there costs
    the 2-core machine nothing, where a kombu consumer would compete for the CPU. All events
    are drained and checked afterwards.
    """
    run = mailpoll.new_run(number)
    started_processes: list[MailpollProcess] = []
    total = messages * accounts
    try:
        for index in range(accounts):
            add_account(run, user_name(index), PASSWORD, messages=messages, index=index)
        with run.consumer() as consumer:
            worker_args = ["worker", "--processes", str(processes), "--threads", "1"]
            worker = MailpollProcess(worker_args, run.env, run.log("worker"))
            if running:
                started_processes.append(worker.start())
                _wait(lambda: "worker started" in worker.log(), "the worker to start",
                      lambda: _dead(started_processes))  # fmt: skip
                time.sleep(1.0)  # every process of it waiting for work
                broker = RedisBroker(url=run.env["MAILPOLL_REDIS_URL"])
                spawned = time.time()
                jobs.enqueue_polls(broker, run.account_ids)
            else:
                scheduler = MailpollProcess(
                    ["scheduler", "--tick", "0.2"], run.env, run.log("sched")
                )
                started_processes.append(scheduler.start())
                _wait(run.poll_queued, "the poll job in the queue",
                      lambda: _dead(started_processes))  # fmt: skip
                spawned = time.time()
                started_processes.append(worker.start())
            _wait(
                lambda: run.queued_events() >= total,
                f"{total} events",
                lambda: _dead(started_processes),
            )
            done = time.time()
            assert worker.process is not None
            cpu, rss = usage(worker.process.pid)
            for process in started_processes:
                process.stop()
            started = _poll_started(worker.log()) or spawned
            run.check_events(consumer, total)
        nbytes = run.stored_bytes()
    finally:
        for process in started_processes:
            process.kill()
        run.cleanup()
    return (
        Rate(total, nbytes, done - spawned, cpu, rss),
        Rate(total, nbytes, done - started, cpu, rss),
    )


def user_name(index: int) -> str:
    return USER if index == 0 else f"{USER}{index + 1}"


def _dead(processes: list[MailpollProcess]) -> str | None:
    for process in processes:
        if process.process is not None and process.process.poll() is not None:
            return f"`mailpoll {process.args[0]}` exited:\n{process.log()[-3000:]}"
    return None


def _median(rates: list[Rate]) -> float:
    return statistics.median(rate.per_second for rate in rates)


def _line(label: str, rates: list[Rate]) -> str:
    runs = ", ".join(f"{r.per_second:,.0f}" for r in rates)
    return f"{label:<44} median {_median(rates):8,.0f} msg/s   (runs: {runs})"


def benchmark(args: argparse.Namespace, dovecot: DovecotServer, mailpoll: Mailpoll) -> None:
    raw: list[Rate] = []
    quiet: list[Rate] = []
    spawn: list[Rate] = []
    polled: list[Rate] = []
    running: list[Rate] = []
    single: list[Rate] = []  # one process on one account, the base of the scaling
    ceiling: list[Rate] = []
    several = args.accounts > 1 or args.processes > 1
    for number in range(1, args.repeat + 1):
        ceiling.append(file_ceiling(mailpoll.root, args.messages, args.size))
        print(f"run {number}: new files {ceiling[-1]}", flush=True)
        raw.append(raw_fetch(dovecot, tls=args.tls, batch=args.chunk))
        print(f"run {number}: raw      {raw[-1]}", flush=True)
        quiet.append(raw_fetch(dovecot, tls=args.tls, batch=args.chunk, quiet=True))
        print(f"run {number}: raw, imaplib debug off {quiet[-1]}", flush=True)
        whole, poll = mailpoll_run(
            mailpoll, number, args.messages, accounts=args.accounts, processes=args.processes
        )
        spawn.append(whole)
        polled.append(poll)
        print(f"run {number}: mailpoll {whole}  | poll only {poll}", flush=True)
        warm, _ = mailpoll_run(
            mailpoll, number + args.repeat, args.messages, accounts=args.accounts,
            processes=args.processes, running=True,
        )  # fmt: skip
        running.append(warm)
        print(f"run {number}: mailpoll, worker running {warm}", flush=True)
        if several:
            one, _ = mailpoll_run(mailpoll, number + 2 * args.repeat, args.messages, running=True)
            single.append(one)
            print(f"run {number}: mailpoll, one process on one account, running {one}", flush=True)
    transport = "IMAPS" if args.tls else "plain IMAP"
    print()
    print(
        f"{args.messages:,} messages of ~{args.size:,} bytes, {transport}, chunks of {args.chunk}"
        f", {args.accounts} account(s), {args.processes} worker process(es)"
    )
    print(_line("raw imapclient UID FETCH BODY.PEEK[]", raw))
    print(_line("raw imapclient, imaplib debug off", quiet))
    print(_line("new files on this file system (the ceiling)", ceiling))
    print(_line("mailpoll: job enqueued -> last event", running))
    print(_line("mailpoll: worker spawn -> last event", spawn))
    print(_line("mailpoll: poll started -> last event", polled))
    for label, base in (("raw", raw), ("raw with debug off", quiet)):
        print(f"ratio mailpoll/{label}: {_median(running) / _median(base):.3f} with the worker "
              f"running (from its spawn: {_median(spawn) / _median(base):.3f}; poll only: "
              f"{_median(polled) / _median(base):.3f}; goal >= 0.5, aim 0.9)")  # fmt: skip
    if several:
        print(_line("mailpoll: one process, one account, running", single))
        print(f"scaling: {args.processes} process(es) on {args.accounts} accounts deliver "
              f"{_median(running) / _median(single):.2f}x what one process on one account "
              "delivers (workers running)")  # fmt: skip
    print(f"ratio new files/raw: {_median(ceiling) / _median(raw):.3f} (no store of a file per "
          "message can go faster here)")  # fmt: skip


def _interrupt_on_sigterm() -> None:
    def handle(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, handle)


@contextlib.contextmanager
def servers(root: Path) -> Iterator[tuple[DovecotServer, RedisServer]]:
    """A throwaway Dovecot and Redis, stopped and deleted whatever happens."""
    with contextlib.ExitStack() as stack:
        dovecot = DovecotServer()
        stack.callback(dovecot.cleanup)
        dovecot.start()
        redis_server = RedisServer()
        stack.callback(redis_server.cleanup)
        redis_server.start()
        yield dovecot, redis_server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=10_000, help="messages in the mailbox")
    parser.add_argument("--size", type=int, default=20_000, help="approximate bytes a message")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement")
    parser.add_argument("--chunk", type=int, default=500, help="UIDs per UID FETCH (both sides)")
    parser.add_argument("--tls", action="store_true", help="IMAPS instead of plain IMAP")
    parser.add_argument("--profile", action="store_true", help="poll in-process under cProfile")
    parser.add_argument("--top", type=int, default=25, help="profile entries to print")
    parser.add_argument("--accounts", type=int, default=1,
                        help="mailboxes and accounts, each with --messages")  # fmt: skip
    parser.add_argument("--processes", type=int, default=1, help="mailpoll worker --processes")
    parser.add_argument("--postgres", action="store_true",
                        help="a fresh PostgreSQL database per run instead of SQLite")  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    _interrupt_on_sigterm()
    root = Path(tempfile.mkdtemp(prefix="mailpoll-bench-"))
    try:
        with servers(root) as (dovecot, redis_server):
            started = time.perf_counter()
            for index in range(args.accounts):
                dovecot.add_user(user_name(index), PASSWORD)
                count, nbytes = mailbox_fill.fill(dovecot, user_name(index), args.messages,
                                                  args.size)  # fmt: skip
            print(f"setup (not timed below): {count:,} messages, {nbytes / count:,.0f} bytes "
                  f"on average, in {time.perf_counter() - started:.1f} s", flush=True)  # fmt: skip
            if count != args.messages:
                raise RuntimeError(f"the mailbox holds {count} messages, not {args.messages}")
            mailpoll = Mailpoll(
                root=root, dovecot=dovecot, redis=redis.Redis.from_url(redis_server.url),
                redis_url=redis_server.url, tls=args.tls, chunk=args.chunk,
                postgres=args.postgres,
            )  # fmt: skip
            if args.profile:
                raw = raw_fetch(dovecot, tls=args.tls, batch=args.chunk)
                print(f"raw      {raw}", flush=True)
                quiet = raw_fetch(dovecot, tls=args.tls, batch=args.chunk, quiet=True)
                print(f"raw, imaplib debug off {quiet}", flush=True)
                profile_poll(mailpoll, USER, PASSWORD, args.messages, args.top, raw.per_second)
            else:
                benchmark(args, dovecot, mailpoll)
    except KeyboardInterrupt:
        print("interrupted: servers stopped, temporary files removed", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
