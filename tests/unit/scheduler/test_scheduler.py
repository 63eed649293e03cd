"""The scheduler: due accounts enqueued once, changes picked up without a restart."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import fakeredis
import pytest
from sqlalchemy import event as sa_event

from scheduler.loop import SHORTEST_WAIT, Scheduler
from shared.accounts.service import AccountService
from shared.db import changes, ledger
from shared.db.database import Database
from shared.db.models import Account
from shared.schedule import SPREAD_ABOVE, Schedule
from shared.secrets import SecretBox, new_key
from shared.settings import Settings
from shared.system_settings import SystemSettings

INBOUND = {"type": "inbound", "host": "imap.example.com", "login": "u"}


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def redis_client() -> Iterator[fakeredis.FakeRedis]:
    client = fakeredis.FakeRedis()
    yield client
    client.close()


def add(database: Database, name: str, **fields: object) -> int:
    box = SecretBox(new_key())
    with database.session() as session:
        account = (
            AccountService(session, secrets=lambda: box, actor="t")
            .add({"name": name, **INBOUND, **fields})
            .account
        )
        assert account.id is not None
        return account.id


def update(database: Database, name: str, **fields: object) -> None:
    box = SecretBox(new_key())
    with database.session() as session:
        AccountService(session, secrets=lambda: box, actor="t").update(name, dict(fields))


def make(
    database: Database, client: fakeredis.FakeRedis, clock: Clock
) -> tuple[Scheduler, list[int]]:
    enqueued: list[int] = []
    scheduler = Scheduler(
        database=database, schedule=Schedule(client), enqueue=enqueued.extend,
        default_interval=60, clock=clock,
    )  # fmt: skip
    return scheduler, enqueued


def test_new_accounts_are_due_at_once_then_every_interval(
    database: Database, redis_client: fakeredis.FakeRedis
) -> None:
    clock = Clock()
    first = add(database, "a", polling_interval=30)
    second = add(database, "b")
    scheduler, enqueued = make(database, redis_client, clock)
    assert sorted(scheduler.tick()) == sorted([first, second])
    assert scheduler.tick() == []
    clock.now += 30
    assert scheduler.tick() == [first]
    clock.now += 30
    assert sorted(scheduler.tick()) == sorted([first, second])
    assert len(enqueued) == 5


def test_two_schedulers_enqueue_each_due_poll_once(
    database: Database, redis_client: fakeredis.FakeRedis
) -> None:
    clock = Clock()
    ids = [add(database, f"acct{i}") for i in range(20)]
    one, seen_by_one = make(database, redis_client, clock)
    two, seen_by_two = make(database, redis_client, clock)
    for _ in range(3):
        one.tick()
        two.tick()
        clock.now += 60
    assert sorted(seen_by_one + seen_by_two) == sorted(ids * 3)


def test_disabled_removed_and_outbound_accounts_are_not_polled(
    database: Database, redis_client: fakeredis.FakeRedis
) -> None:
    clock = Clock()
    kept = add(database, "kept")
    add(database, "off")
    add(database, "relay", type="outbound", auth_type="none", login=None)
    scheduler, _ = make(database, redis_client, clock)
    assert len(scheduler.tick()) == 2
    update(database, "off", enabled=False)
    clock.now += 60
    assert scheduler.tick() == [kept]


def test_an_added_account_and_a_changed_interval_take_effect_without_a_restart(
    database: Database, redis_client: fakeredis.FakeRedis
) -> None:
    clock = Clock()
    first = add(database, "first", polling_interval=600)
    scheduler, _ = make(database, redis_client, clock)
    scheduler.tick()
    second = add(database, "second")
    assert scheduler.tick() == [second]
    update(database, "first", polling_interval=10)
    assert scheduler.tick() == [first]  # a changed account is polled at once...
    clock.now += 5
    assert scheduler.tick() == []
    clock.now += 5
    assert scheduler.tick() == [first]  # ...then every 10 s, not every 600


def test_a_changed_default_interval_takes_effect_from_now(
    database: Database, redis_client: fakeredis.FakeRedis
) -> None:
    clock = Clock()
    account = add(database, "a")
    scheduler, _ = make(database, redis_client, clock)
    assert scheduler.tick() == [account]
    with database.session() as session:
        SystemSettings(session, Settings(), actor="t").set("default_polling_interval", "10")
    assert scheduler.tick() == []  # not a change of the account: no extra poll
    clock.now += 10
    assert scheduler.tick() == [account]


def test_a_configuration_change_clears_the_backoff_and_makes_the_account_due_at_once(
    database: Database, redis_client: fakeredis.FakeRedis
) -> None:
    clock = Clock()
    account = add(database, "a", polling_interval=60)
    scheduler, _ = make(database, redis_client, clock)
    assert scheduler.tick() == [account]
    Schedule(redis_client).postpone(account, clock.now + 900)  # a configuration error's backoff
    with database.session() as session:
        ledger.status_of(session, account).backoff_until = datetime.now(UTC) + timedelta(hours=1)
    clock.now += 60
    assert scheduler.tick() == []  # still in backoff

    update(database, "a", host="imap.fixed.example.com")

    assert scheduler.tick() == [account]
    with database.session() as session:
        assert ledger.status_of(session, account).backoff_until is None


def test_backoff_postpones_but_never_advances(
    database: Database, redis_client: fakeredis.FakeRedis
) -> None:
    clock = Clock()
    account = add(database, "a")
    scheduler, _ = make(database, redis_client, clock)
    scheduler.tick()
    schedule = Schedule(redis_client)
    schedule.postpone(account, clock.now + 600)
    schedule.postpone(account, clock.now + 5)
    clock.now += 599
    assert scheduler.tick() == []
    clock.now += 1
    assert scheduler.tick() == [account]


def test_a_tick_reads_only_due_entries(
    database: Database, redis_client: fakeredis.FakeRedis
) -> None:
    clock = Clock()
    for i in range(50):
        add(database, f"acct{i}", polling_interval=3600)
    scheduler, _ = make(database, redis_client, clock)
    scheduler.tick()
    clock.now += 1
    commands: list[str] = []
    original = redis_client.execute_command

    def spy(*args: object, **kwargs: object) -> object:
        commands.append(str(args[0]))
        return original(*args, **kwargs)

    redis_client.execute_command = spy  # type: ignore[method-assign]
    assert scheduler.tick() == []
    assert not any(c.upper() in ("HGETALL", "ZRANGE") for c in commands)


def test_housekeeping_is_enqueued_by_one_replica_per_period(
    database: Database, redis_client: fakeredis.FakeRedis
) -> None:
    runs: list[str] = []
    schedulers = [
        Scheduler(
            database=database,
            schedule=Schedule(redis_client),
            enqueue=lambda _ids: None,
            default_interval=60,
            housekeeping=lambda n=name: runs.append(n),
        )
        for name in ("one", "two")
    ]
    for _ in range(3):
        for scheduler in schedulers:
            scheduler.tick()
    assert runs == ["one"]


def test_the_scheduler_survives_a_failing_tick(
    database: Database, redis_client: fakeredis.FakeRedis
) -> None:
    import threading

    scheduler, _ = make(database, redis_client, Clock())
    calls: list[int] = []

    def broken_tick() -> list[int]:
        calls.append(1)
        if len(calls) >= 3:
            stop.set()
        raise RuntimeError("database went away")

    scheduler.tick = broken_tick  # type: ignore[method-assign]
    stop = threading.Event()
    scheduler.run(stop, period=0.01)
    assert len(calls) == 3


def _statements(database: Database) -> list[str]:
    seen: list[str] = []
    sa_event.listen(
        database.engine, "before_cursor_execute", lambda *args: seen.append(str(args[2]))
    )
    return seen


@pytest.mark.parametrize("accounts", [5, 200])
def test_a_tick_without_a_change_asks_the_database_one_thing_however_many_accounts(
    database: Database, redis_client: fakeredis.FakeRedis, accounts: int
) -> None:
    clock = Clock()
    with database.session() as session:
        for number in range(accounts):  # plain rows: the service is too slow for many
            now = datetime.now(UTC)
            session.add(
                Account(
                    name=f"a{number}",
                    protocol="imap",
                    port=993,
                    created_by="t",
                    created_at=now,
                    modified_by="t",
                    modified_at=now,
                    **INBOUND,
                )
            )
    scheduler, _ = make(database, redis_client, clock)
    scheduler.tick()
    statements = _statements(database)
    clock.now += 1
    scheduler.tick()
    assert [s.split()[0] for s in statements] == ["SELECT"]
    assert "config_state" in statements[0]


def test_a_change_reads_only_the_changed_accounts(
    database: Database, redis_client: fakeredis.FakeRedis
) -> None:
    clock = Clock()
    for number in range(20):
        add(database, f"a{number}", polling_interval=600)
    scheduler, _ = make(database, redis_client, clock)
    scheduler.tick()
    update(database, "a7", polling_interval=30)
    statements = _statements(database)
    assert scheduler.tick() == [8]
    accounts_read = [s for s in statements if "FROM email_accounts" in s]
    assert len(accounts_read) == 1
    assert "IN" in accounts_read[0]


def test_a_token_refresh_is_no_configuration_change(database: Database) -> None:
    account = add(database, "a")
    with database.session() as session:
        before = changes.version(session)
        row = session.get(Account, account)
        assert row is not None
        row.client_token_instance_encrypted = "new token"
        row.oauth_status = "ok"
    with database.session() as session:
        assert changes.version(session) == before
        row = session.get(Account, account)
        assert row is not None
        row.polling_interval = 30
    with database.session() as session:
        assert changes.version(session) == before + 1
        assert changes.changes_between(session, before, before + 1) == ({account}, False)


def test_a_removed_account_and_a_setting_are_logged_as_changes(database: Database) -> None:
    account = add(database, "a")
    with database.session() as session:
        before = changes.version(session)
        row = session.get(Account, account)
        session.delete(row)
        SystemSettings(session, Settings(), actor="t").set("default_polling_interval", "30")
    with database.session() as session:
        assert changes.changes_between(session, before, changes.version(session)) == (
            {account}, True,
        )  # fmt: skip


def test_a_cold_start_with_many_accounts_spreads_their_first_polls(
    redis_client: fakeredis.FakeRedis,
) -> None:
    schedule = Schedule(redis_client)
    planned = {number: 60 for number in range(1, SPREAD_ABOVE * 2 + 1)}
    schedule.reconcile(planned, 1000.0)
    due = sorted(schedule.due_times().values())
    assert due[0] == 1000.0
    assert 1059.0 < due[-1] < 1060.0
    assert len(schedule.claim_due(1000.0 + 30)) == pytest.approx(SPREAD_ABOVE, abs=2)


def test_the_scheduler_waits_until_the_next_poll_is_due(
    database: Database, redis_client: fakeredis.FakeRedis
) -> None:
    clock = Clock()
    add(database, "a", polling_interval=30)
    scheduler, _ = make(database, redis_client, clock)
    assert scheduler.wait_seconds(1.0) == 1.0  # nothing scheduled yet
    scheduler.tick()
    clock.now += 29.7
    assert scheduler.wait_seconds(1.0) == pytest.approx(0.3)
    clock.now += 0.29
    assert scheduler.wait_seconds(1.0) == SHORTEST_WAIT


def test_the_lag_behind_the_due_time_is_measured(
    database: Database, redis_client: fakeredis.FakeRedis
) -> None:
    clock = Clock()
    add(database, "a", polling_interval=30)
    scheduler, _ = make(database, redis_client, clock)
    scheduler.tick()
    clock.now += 30.25
    scheduler.tick()
    assert scheduler.lags == [0.0, pytest.approx(0.25)]
