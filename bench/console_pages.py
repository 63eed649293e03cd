"""Console page times with many accounts: p50 and p95 of each page as a signed-in browser
gets it (server-rendered HTML).

Run on demand, not in CI (bench/README.md has the results):

    .venv/bin/python bench/console_pages.py [--accounts 10000] [--requests 100]

The same fill as bench/web_latency.py (a fresh PostgreSQL database and a throwaway Redis;
`--accounts` inbound accounts with status rows, every 100th with a dead letter, every 20th
failing, all on the poll schedule), a real `mailpoll web`, an admin signed in through the
console's sign-in form; each page is asked `--requests` times over one keep-alive connection
from this machine, so the times are the server's plus a loopback round trip.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from bench.web_latency import cursor_at, fill, measure, name, percentile, postgres
from shared.admins import AdminUsers
from shared.db.database import Database
from tests.support.redis_server import RedisServer
from tests.support.web_server import running_web

PASSWORD = secrets.token_urlsafe(16)  # a throwaway admin of a throwaway database


def pages(count: int) -> dict[str, tuple[str, dict[str, str]]]:
    middle = name(count // 2)
    return {
        "accounts list, first page": ("/accounts", {}),
        "accounts list, a middle page": ("/accounts", {"cursor": cursor_at(count // 2)}),
        "accounts list, failing only": ("/accounts", {"health": "failing"}),
        "accounts list, search": ("/accounts", {"q": "customer 4242"}),
        "accounts list, htmx table only": ("/accounts", {"q": "imap4"}),
        "an account (Properties)": (f"/accounts/{middle}", {}),
        "an account (Audit)": (f"/accounts/{middle}/audit", {}),
        "new account form": ("/new-account", {}),
        "status": ("/status", {}),
        "system configuration": ("/settings", {}),
        "export / import": ("/transfer", {}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=100)
    options = parser.parse_args()
    server = RedisServer()
    server.start()
    try:
        with postgres() as url, tempfile.TemporaryDirectory() as root:
            database = Database(url)
            database.upgrade()
            started = time.perf_counter()
            fill(database, server.url, options.accounts)
            print(f"filled {options.accounts} accounts in {time.perf_counter() - started:.1f} s")
            with database.session() as session:
                AdminUsers(session, actor="bench").add("bench", "admin", PASSWORD)
            database.dispose()
            with (
                running_web(Path(root), url, server.url, log_level="WARNING") as web,
                httpx.Client(base_url=web.url, timeout=30) as client,
            ):
                signed = client.post("/signin", data={"name": "bench", "password": PASSWORD})
                assert signed.status_code == 303, signed.text
                report(client, options)
    finally:
        server.cleanup()


def report(client: httpx.Client, options: argparse.Namespace) -> None:
    print(f"| page ({options.accounts} accounts) | p50 ms | p95 ms | max ms |")
    print("|---|---|---|---|")
    for label, (path, params) in pages(options.accounts).items():
        if "htmx" in label:
            client.headers.update({"HX-Request": "true", "HX-Target": "account-table"})
        seconds = measure(client, path, dict(params), options.requests)
        client.headers.pop("HX-Request", None)
        client.headers.pop("HX-Target", None)
        p50, p95 = (percentile(seconds, s) * 1000 for s in (0.5, 0.95))
        print(f"| {label} | {p50:.1f} | {p95:.1f} | {max(seconds) * 1000:.1f} |")


if __name__ == "__main__":
    main()
