"""Push at scale: one `mailpoll watcher` holding IDLE for many accounts on one Dovecot.

Run on demand, not in CI (see bench/README.md):

    .venv/bin/python bench/watcher.py [--accounts 1000] [--deliveries 300] [--rate 5] [--tls]

Measures APPEND-to-event latency (p50, p99), the watcher's memory and CPU while idle (per
account), and how long a second watcher takes to hold every account after the first is killed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis
import sqlalchemy as sa
from imapclient import IMAPClient

from shared import redis_keys
from shared.accounts.service import AccountService
from shared.db.database import Database
from shared.eventbus import EventConsumer
from shared.secrets import SecretBox, new_key
from shared.watch_leases import modes
from tests.support.dovecot import DovecotServer
from tests.support.processes import MailpollProcess, environment
from tests.support.redis_server import RedisServer

PASSWORD = "secret"  # noqa: S105 (a throwaway test server)
# One imap process serves many connections (with the default, one process per connection,
# 1,000 IDLE sessions are 1,000 processes and more inotify instances than Linux allows; a
# process with too many runs out of its 256 MB address space).
MANY = """
service imap {
  service_count = 0
  client_limit = 100
  process_limit = 100
  vsz_limit = 1G
}
service imap-login {
  client_limit = 5000
  process_limit = 4
}
service auth {
  client_limit = 10000
}
service anvil {
  client_limit = 10000
}
mail_max_userip_connections = 50
"""


class ManyDovecot(DovecotServer):
    def _prepare(self) -> None:
        super()._prepare()
        with self.config_file.open("a") as config:
            config.write(MANY)


def wait(condition: Callable[[], bool], what: str, timeout: float = 600.0) -> float:
    """Seconds until `condition` held."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)
    return time.monotonic() - started


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Bench:
    def __init__(self, root: Path, dovecot: DovecotServer, redis_url: str, args: Any) -> None:
        self.root, self.dovecot, self.args = root, dovecot, args
        self.redis = redis.Redis.from_url(redis_url)
        key = new_key()
        self.box = SecretBox(key)
        self.env = environment(
            database_url=f"sqlite:///{root / 'mailpoll.db'}", redis_url=redis_url,
            events_url=redis_url.rsplit("/", 1)[0] + "/1", secret_key=key,
            data_dir=str(root / "data"), log_level="WARNING",
        )  # fmt: skip
        self.database = Database(self.env["MAILPOLL_DATABASE_URL"])
        self.database.upgrade()
        self.processes: list[MailpollProcess] = []
        self.arrived: dict[str, float] = {}

    def start(self, *args: str) -> MailpollProcess:
        log = self.root / f"{args[0]}-{len(self.processes)}.log"
        process = MailpollProcess(list(args), self.env, log).start()
        self.processes.append(process)
        return process

    def add_accounts(self, count: int) -> list[tuple[int, str]]:
        encryption, port = ("ssl", self.dovecot.imaps_port) if self.args.tls else (
            "none", self.dovecot.imap_port)  # fmt: skip
        tls = f"\ntls_ca_file={self.dovecot.ca_file}" if self.args.tls else ""
        made = []
        with self.database.session() as session:
            service = AccountService(session, secrets=lambda: self.box, actor="bench")
            for n in range(count):
                user = f"push-{n}"
                self.dovecot.add_user(user, PASSWORD)
                account = service.add({
                    "name": user, "type": "inbound", "host": self.dovecot.host,
                    "encryption": encryption, "port": port, "login": user, "password": PASSWORD,
                    "on_email_received": "leave", "properties": f"idle=true{tls}",
                }).account  # fmt: skip
                assert account.id is not None
                made.append((account.id, user))
        return made

    def idle_holders(self, ids: list[int]) -> set[str] | None:
        found = modes(self.redis, ids)
        if len(found) < len(ids) or any(m.mode != "idle" for m in found.values()):
            return None
        return {m.watcher for m in found.values()}

    @contextlib.contextmanager
    def consuming(self) -> Iterator[None]:
        consumer = EventConsumer(self.env["MAILPOLL_EVENTS_URL"]).open()
        stop = threading.Event()

        def note(event: dict[str, Any]) -> None:
            self.arrived.setdefault(str(event["data"]["subject"]), time.monotonic())

        def drain() -> None:
            while not stop.is_set():
                consumer.drain(note, timeout=0.05)

        thread = threading.Thread(target=drain, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(5)
            consumer.close()

    def polls_settled(self, count: int) -> bool:
        query = sa.text("SELECT count(*) FROM account_status WHERE last_poll_at IS NOT NULL")
        with self.database.engine.connect() as connection:
            polled = int(connection.execute(query).scalar_one())
        queued = int(self.redis.llen(f"dramatiq:{redis_keys.POLL_QUEUE}"))  # type: ignore[arg-type]
        return polled >= count and queued == 0

    def deliver(self, accounts: list[tuple[int, str]]) -> list[float]:
        """APPEND one message to each of `--deliveries` accounts, `--rate` a second; returns
        the seconds from each APPEND being sent to its event arriving."""
        targets = random.Random(7).choices(accounts, k=self.args.deliveries)
        sent: dict[str, float] = {}
        for n, (_, user) in enumerate(targets):
            subject = f"bench {n}"
            raw = (
                f"From: a@example.com\r\nTo: {user}@example.com\r\nSubject: {subject}\r\n\r\nx\r\n"
            )
            client = IMAPClient(self.dovecot.host, port=self.dovecot.imap_port, ssl=False)
            client.login(user, PASSWORD)
            sent[subject] = time.monotonic()
            client.append("INBOX", raw.encode())
            client.logout()
            time.sleep(max(0.0, 1 / self.args.rate - (time.monotonic() - sent[subject])))
        wait(lambda: all(s in self.arrived for s in sent), "every event", timeout=120)
        return [self.arrived[s] - t for s, t in sent.items()]

    def server_delay(self, user: str, samples: int) -> list[float]:
        """APPEND to EXISTS on an IDLE connection of imapclient's own: the part of the latency
        that is the server's (Dovecot holds change notifications back about half a second)."""
        delays = []
        with self.dovecot.imap(user) as idler, self.dovecot.imap(user) as sender:
            idler.select_folder("INBOX", readonly=True)
            for n in range(samples):
                idler.idle()
                sent = time.monotonic()
                sender.append("INBOX", f"Subject: baseline {n}\r\n\r\nx\r\n".encode())
                while not any(b"EXISTS" in r for r in idler.idle_check(timeout=5)):
                    pass
                delays.append(time.monotonic() - sent)
                idler.idle_done()
        return sorted(delays)

    def close(self) -> None:
        for process in self.processes:
            process.stop()
        self.redis.close()
        self.database.dispose()


def run(bench: Bench, args: Any) -> None:
    watcher = bench.start("watcher")
    assert watcher.process is not None
    pid = watcher.process.pid
    time.sleep(3)
    baseline = rss_kib(pid)
    started = time.monotonic()
    accounts = bench.add_accounts(args.accounts)
    ids = [i for i, _ in accounts]
    print(f"{args.accounts} accounts made in {time.monotonic() - started:.1f} s", flush=True)
    took = wait(lambda: bench.idle_holders(ids) is not None, "IDLE on every account")
    print(f"all {args.accounts} idle {took:.1f} s after they were made", flush=True)
    bench.start("scheduler")
    bench.start("worker", "--processes", "1", "--threads", "4")
    took = wait(lambda: bench.polls_settled(args.accounts), "the first polls")
    print(f"first poll of every account done in {took:.1f} s", flush=True)
    time.sleep(5)
    rss = rss_kib(pid)
    cpu_before, idle_started = cpu_seconds(pid), time.monotonic()
    time.sleep(args.idle_seconds)
    idle_cpu = (cpu_seconds(pid) - cpu_before) / (time.monotonic() - idle_started)
    per_account = (rss - baseline) / args.accounts
    print(f"watcher RSS: {baseline / 1024:.1f} MiB with no account, {rss / 1024:.1f} MiB with "
          f"{args.accounts}: {per_account:.1f} KiB per account", flush=True)  # fmt: skip
    print(f"watcher CPU while idle: {idle_cpu * 100:.2f}% of one core "
          f"({idle_cpu * 1e6 / args.accounts:.2f} µs/s per account)", flush=True)  # fmt: skip
    with bench.consuming():
        latencies = sorted(bench.deliver(accounts))
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"APPEND to event, {len(latencies)} deliveries at {args.rate}/s: "
          f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms",
          flush=True)  # fmt: skip
    server = bench.server_delay(accounts[0][1], 20)
    print(f"of which the server's: APPEND to EXISTS on a plain imapclient IDLE, p50 "
          f"{statistics.median(server) * 1000:.0f} ms, max {server[-1] * 1000:.0f} ms",
          flush=True)  # fmt: skip
    second = bench.start("watcher")
    assert second.process is not None
    survivor = str(second.process.pid)
    wait(lambda: len(bench.idle_holders(ids) or ()) == 2, "the second watcher's share")
    watcher.kill()
    took = wait(
        lambda: {h.split("-")[-2] for h in bench.idle_holders(ids) or {"x-x-x"}} == {survivor},
        "the survivor holding every account",
    )
    print(f"takeover: every account IDLE under the second watcher {took:.1f} s after the "
          f"first was killed (lease 10 s)", flush=True)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--deliveries", type=int, default=300)
    parser.add_argument("--rate", type=float, default=5.0, help="deliveries a second")
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--tls", action="store_true", help="the watcher logs in over IMAPS")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # clean up as after Ctrl-C
    root = Path(tempfile.mkdtemp(prefix="mailpoll-bench-watcher-"))
    try:
        with contextlib.ExitStack() as stack:
            dovecot = ManyDovecot()
            stack.callback(dovecot.cleanup)
            dovecot.start()
            redis_server = RedisServer()
            stack.callback(redis_server.cleanup)
            redis_server.start()
            bench = Bench(root, dovecot, redis_server.url, args)
            stack.callback(bench.close)
            run(bench, args)
    except KeyboardInterrupt:
        print("interrupted: servers stopped, temporary files removed", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
