"""A cluster under chaos: workers SIGKILLed every few seconds, Redis restarted empty, Dovecot
restarted, a scheduler killed, mail arriving throughout.

What must hold: no stored message is lost, no message gets two event ids, nothing is deleted
from the server before it is announced, a consumer bound from the start sees every message,
and no account stalls: once the chaos stops, every account catches up within a minute.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from email import message_from_bytes

import pytest
import sqlalchemy as sa

from tests.support import corpus
from tests.support.cluster import Cluster
from tests.support.dovecot import DovecotServer
from tests.support.processes import MailpollProcess, wait_until
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.integration
CHAOS_SECONDS = 40.0
ACCOUNTS = {  # account fields; the IMAP and POP3 deletes prove nothing goes unannounced
    "imap-delete": {"on_email_received": "delete", "max_batch": 7},
    "imap-read": {"on_email_received": "mark_read", "max_batch": 20},
    "imap-leave": {"max_batch": 5},
    "pop3-delete": {"protocol": "pop3", "on_email_received": "delete", "max_batch": 10},
}


class Mail:
    """What the test appended, by account: Message-ID -> subject."""

    def __init__(self, dovecot: DovecotServer, users: dict[str, str]) -> None:
        self.dovecot = dovecot
        self.users = users
        self.sent: dict[str, dict[str, str]] = defaultdict(dict)
        self.count = 0

    def append(self, account: str) -> None:
        """Append one message; an APPEND that fails (Dovecot restarting) is tried again."""
        self.count += 1
        subject = f"{account} {self.count}"
        raw = corpus.plain(subject, body=f"chaos {self.count} " + "z" * random.randint(0, 5000))
        message_id = str(message_from_bytes(raw)["Message-ID"])
        for _ in range(50):
            try:
                self.dovecot.append(self.users[account], raw)
                break
            except Exception:  # Dovecot is restarting: try again
                time.sleep(0.2)
        else:
            raise AssertionError("Dovecot did not come back")
        self.sent[account][message_id] = subject

    def on_server(self, account: str) -> set[str]:
        messages = self.dovecot.messages(self.users[account])
        return {str(message_from_bytes(raw)["Message-ID"]) for raw in messages.values()}


def ledger_message_ids(cluster: Cluster) -> dict[str, set[str]]:
    query = sa.text(
        "SELECT a.name, r.message_id FROM received_messages r"
        " JOIN email_accounts a ON a.id = r.account_id"
    )
    found: dict[str, set[str]] = defaultdict(set)
    with cluster.database.engine.connect() as connection:
        for name, message_id in connection.execute(query):
            found[name].add(message_id)
    return found


def deleted_before_announced(cluster: Cluster, mail: Mail) -> list[str]:
    """Messages gone from a deleting account's server but not in the ledger: read the server
    first, then the ledger, since a delete only ever follows the ledger's commit."""
    gone = {
        account: set(mail.sent[account]) - mail.on_server(account)
        for account in ACCOUNTS
        if ACCOUNTS[account].get("on_email_received") == "delete"
    }
    recorded = ledger_message_ids(cluster)
    return [m for account, ids in gone.items() for m in ids - recorded[account]]


def test_chaos_loses_nothing_repeats_no_id_and_stalls_no_account(
    cluster: Cluster, dovecot: DovecotServer, redis_server: RedisServer
) -> None:
    users = {name: dovecot.new_user() for name in ACCOUNTS}
    for name, fields in ACCOUNTS.items():
        port = dovecot.pop3_port if fields.get("protocol") == "pop3" else dovecot.imap_port
        cluster.add_account(dovecot, users[name], "secret", name=name, port=port, **fields)
    schedulers = [cluster.start("scheduler", "--tick", "0.2") for _ in range(2)]
    workers = [cluster.start("worker", "--threads", "2") for _ in range(3)]
    mail = Mail(dovecot, users)
    chaos = random.Random(8)
    unannounced_deletes: list[str] = []
    started = time.monotonic()
    next_kill = started + 3
    done = {"redis": False, "dovecot": False, "scheduler": False}

    while (elapsed := time.monotonic() - started) < CHAOS_SECONDS:
        mail.append(chaos.choice(list(ACCOUNTS)))
        if time.monotonic() >= next_kill:
            victim: MailpollProcess = chaos.choice(workers)
            victim.kill()
            workers[workers.index(victim)] = cluster.start("worker", "--threads", "2")
            next_kill = time.monotonic() + chaos.uniform(2, 5)
            unannounced_deletes += deleted_before_announced(cluster, mail)
        if elapsed > 10 and not done["redis"]:
            done["redis"] = True
            redis_server.restart()  # no persistence: locks, fences, schedule, jobs are gone
        if elapsed > 20 and not done["dovecot"]:
            done["dovecot"] = True
            dovecot.restart()
        if elapsed > 28 and not done["scheduler"]:
            done["scheduler"] = True
            schedulers[0].kill()
            schedulers[0] = cluster.start("scheduler", "--tick", "0.2")
        time.sleep(chaos.uniform(0.02, 0.15))
    caught_up = time.monotonic()

    def every_account_caught_up() -> bool:
        recorded = ledger_message_ids(cluster)
        return all(set(mail.sent[a]) <= recorded[a] for a in ACCOUNTS)

    wait_until(every_account_caught_up, 60, "every account to take in all its mail")
    catch_up_seconds = time.monotonic() - caught_up
    unannounced_deletes += deleted_before_announced(cluster, mail)
    wait_until(
        lambda: {e["id"] for e in cluster.events} >= ledger_event_ids(cluster), 20,
        "the consumer to see every announced message",
    )  # fmt: skip

    assert unannounced_deletes == [], "deleted from the server before it was announced"
    ids_by_message: dict[tuple[str, str], set[str]] = defaultdict(set)
    for event in cluster.events:
        data = event["data"]
        ids_by_message[(data["account"], data["message_id"])].add(event["id"])
    twice = {key: ids for key, ids in ids_by_message.items() if len(ids) > 1}
    assert twice == {}, "a message was announced under two ids"
    for account in ACCOUNTS:
        announced = {m for (a, m) in ids_by_message if a == account}
        assert set(mail.sent[account]) <= announced, f"{account}: a message was never announced"
    repeats = len(cluster.events) - len(ids_by_message)
    print(f"chaos: {mail.count} messages, {repeats} repeated deliveries, caught up in "
          f"{catch_up_seconds:.1f}s")  # fmt: skip
    assert mail.count >= 100, "too little mail to prove anything: the chaos loop is too slow"
    assert catch_up_seconds < 60


def ledger_event_ids(cluster: Cluster) -> set[str]:
    with cluster.database.engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT event_id FROM received_messages"))
        return {event_id for (event_id,) in rows}
