"""Admin API latency with many accounts: p95 of a status page and an account list page.

Run on demand, not in CI (see bench/README.md):

    .venv/bin/python bench/web_latency.py [--accounts 100000] [--requests 300] [--limit 100]

Makes a fresh PostgreSQL database (127.0.0.1:5432, else a throwaway cluster) and a throwaway
Redis, fills them with `--accounts` inbound accounts (each with a status row, every 100th
with a dead letter, every 20th failing, every one on the Redis poll schedule), starts a real
`mailpoll web` on them and asks each page `--requests` times over one keep-alive connection
with an API token, as a service would. Prints p50, p95, p99 and max per page; everything it
made is removed at the end.
"""

from __future__ import annotations

import argparse
import base64
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import redis
import sqlalchemy as sa
from sqlmodel import col

from shared import redis_keys
from shared.db.database import Database
from shared.db.models import Account, AccountStatus, DeadLetter
from shared.tokens import ApiTokens
from tests.support.postgres import drop_database, fresh_database, postgres_admin_url
from tests.support.redis_server import RedisServer
from tests.support.web_server import running_web

BATCH = 10_000
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def name(n: int) -> str:
    return f"acct-{n:06d}"


def fill(database: Database, redis_url: str, count: int) -> None:
    """The accounts, their status, some dead letters and the schedule, in bulk (not timed)."""
    with database.engine.begin() as connection:
        for start in range(0, count, BATCH):
            numbers = range(start, min(start + BATCH, count))
            connection.execute(sa.insert(Account), [_account(n) for n in numbers])
        ids = dict(connection.execute(sa.select(col(Account.name), col(Account.id))).all())
        statuses = [_status(ids[name(n)], n) for n in range(count)]
        for start in range(0, count, BATCH):
            connection.execute(sa.insert(AccountStatus), statuses[start : start + BATCH])
        letters = [_dead_letter(ids[name(n)], n) for n in range(0, count, 100)]
        connection.execute(sa.insert(DeadLetter), letters)
    with database.engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("ANALYZE"))
    with redis.Redis.from_url(redis_url) as client:
        due = time.time() + 60
        for start in range(0, count, BATCH):
            chunk = {
                str(ids[name(n)]): due + n % 60 for n in range(start, min(start + BATCH, count))
            }
            client.zadd(redis_keys.schedule(), chunk)


def _account(n: int) -> dict[str, Any]:
    return {
        "name": name(n), "enabled": n % 7 != 0, "protect_during_import": False,
        "type": "inbound", "host": f"imap{n % 50}.example.com", "protocol": "imap",
        "encryption": "ssl", "use_default_port": True, "port": 993, "auth_type": "local",
        "login": f"user{n}@example.com", "on_email_received": "leave", "properties": "",
        "delete_read_messages": False, "debug": False, "description": f"customer {n}",
        "created_by": "bench", "created_at": NOW, "modified_by": "bench", "modified_at": NOW,
    }  # fmt: skip


def _status(account_id: int, n: int) -> dict[str, Any]:
    failing = n % 20 == 0
    return {
        "account_id": account_id, "last_poll_at": NOW - timedelta(seconds=n % 60),
        "last_success_at": None if failing else NOW, "consecutive_failures": 3 if failing else 0,
        "last_error": "login refused" if failing else None, "messages_waiting": n % 3,
    }  # fmt: skip


def _dead_letter(account_id: int, n: int) -> dict[str, Any]:
    return {
        "account_id": account_id, "folder": "INBOX", "uidvalidity": 1, "uid": n + 1,
        "error": "message over max_message_mb", "attempts": 1, "first_failed_at": NOW,
        "last_failed_at": NOW, "dead": True,
    }  # fmt: skip


def cursor_at(n: int) -> str:
    return base64.urlsafe_b64encode(name(n).encode()).decode().rstrip("=")


def pages(count: int, limit: int) -> dict[str, tuple[str, dict[str, Any]]]:
    middle = cursor_at(count // 2)
    return {
        "status, first page": ("/api/status", {"limit": limit}),
        "status, a middle page": ("/api/status", {"limit": limit, "cursor": middle}),
        "accounts, first page": ("/api/accounts", {"limit": limit}),
        "accounts, a middle page": ("/api/accounts", {"limit": limit, "cursor": middle}),
        "accounts, failing only": ("/api/accounts", {"limit": limit, "failing": True}),
        "accounts, search a substring": (
            "/api/accounts",
            {"limit": limit, "search": "customer 4242"},
        ),
    }


def measure(client: httpx.Client, path: str, params: dict[str, Any], requests: int) -> list[float]:
    for _ in range(10):  # warm the connection, the server's caches and PostgreSQL's
        client.get(path, params=params).raise_for_status()
    seconds = []
    for _ in range(requests):
        started = time.perf_counter()
        answer = client.get(path, params=params)
        seconds.append(time.perf_counter() - started)
        answer.raise_for_status()
    return seconds


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


@contextmanager
def postgres() -> Iterator[str]:
    admin_url = postgres_admin_url()
    url = fresh_database(admin_url)
    try:
        yield url
    finally:
        drop_database(admin_url, url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--limit", type=int, default=100)
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
                token = ApiTokens(session, actor="bench").create("bench", "viewer")[1]
            database.dispose()
            with running_web(Path(root), url, server.url, log_level="WARNING") as web:
                headers = {"Authorization": f"Bearer {token}"}
                with httpx.Client(base_url=web.url, headers=headers, timeout=30) as client:
                    report(client, options)
    finally:
        server.cleanup()


def report(client: httpx.Client, options: argparse.Namespace) -> None:
    print(f"| page ({options.limit} items) | p50 ms | p95 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|")
    for label, (path, params) in pages(options.accounts, options.limit).items():
        seconds = measure(client, path, params, options.requests)
        p50, p95, p99 = (percentile(seconds, s) * 1000 for s in (0.5, 0.95, 0.99))
        print(f"| {label} | {p50:.1f} | {p95:.1f} | {p99:.1f} | {max(seconds) * 1000:.1f} |")


if __name__ == "__main__":
    main()
