"""One poll against a real Dovecot and a real Redis: stored, announced once, then acted on."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

from shared import redis_keys
from shared.db import ledger
from shared.errors import PublishError
from shared.lock import AccountLock
from shared.mail.parse_pool import PoolParser
from tests.support import corpus
from tests.support.dovecot import DovecotServer
from tests.support.pipeline import Pipeline, running_pipeline
from workers.housekeeping import run_housekeeping
from workers.poll import poll_account

pytestmark = pytest.mark.integration


@pytest.fixture
def pipeline(dovecot: DovecotServer, redis_url: str, tmp_path: Path) -> Iterator[Pipeline]:
    with running_pipeline(dovecot, redis_url, tmp_path) as running:
        yield running


def sha(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def test_every_message_is_stored_and_announced_exactly_once(
    pipeline: Pipeline, dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, password = mailbox_user
    sent = corpus.real_world()
    for raw in sent:
        dovecot.append(user, raw)
    account = pipeline.add_account(user, password)

    result = pipeline.poll(account)

    assert result.outcome == "polled", result.error
    events = pipeline.events()
    assert len(events) == len(sent)
    assert len({e["id"] for e in events}) == len(sent)
    on_server = dovecot.messages(user)
    for event in events:
        data = event["data"]
        stored = (pipeline.upload_dir / data["raw_path"]).read_bytes()
        assert data["sha256"] == sha(stored) == sha(on_server[data["uid"]])
        assert event["source"] == f"mailpoll/accounts/{account.name}"
    assert any(e["data"]["parse_error"] for e in events)  # the malformed one is flagged...
    assert all(flags == () for flags in dovecot.flags(user).values())  # ...and nothing is \Seen
    assert pipeline.poll(account).tally.announced == 0
    assert len(pipeline.events()) == len(sent)


def test_a_uidvalidity_change_rescans_without_repeating_announced_mail(
    pipeline: Pipeline, dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, password = mailbox_user
    for n in range(3):
        dovecot.append(user, corpus.plain(f"before {n}"))
    account = pipeline.add_account(user, password)
    pipeline.poll(account)
    dovecot.reset_uidvalidity(user)
    dovecot.append(user, corpus.plain("after the change"))

    result = pipeline.poll(account)

    assert result.tally.announced == 1
    assert result.tally.repeated == 3
    assert pipeline.events()[-1]["data"]["subject"] == "after the change"
    assert pipeline.events()[-1]["data"]["uidvalidity"] == dovecot.uidvalidity(user)


def test_a_full_mailbox_is_taken_in_batches_that_follow_at_once(
    pipeline: Pipeline, dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, password = mailbox_user
    for n in range(7):
        dovecot.append(user, corpus.plain(f"message {n}"))
    account = pipeline.add_account(user, password, max_batch=3)

    first = pipeline.poll(account).tally
    assert (first.waiting, first.oldest_waiting is not None) == (4, True)
    counts = [first.announced] + [pipeline.poll(account).tally.announced for _ in range(2)]

    assert counts == [3, 3, 1]
    assert pipeline.enqueued == [account.id, account.id]
    with pipeline.database.session() as session:
        assert account.id is not None
        assert ledger.status_of(session, account.id).messages_waiting == 0
    subjects = [e["data"]["subject"] for e in pipeline.events()]
    assert subjects == [f"message {n}" for n in range(7)]


def test_process_after_and_ignore_older_than_hours(
    pipeline: Pipeline, dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, password = mailbox_user
    now = pipeline.clock.now
    dovecot.append(user, corpus.plain("ancient"), internal_date=now - timedelta(days=30))
    dovecot.append(user, corpus.plain("yesterday"), internal_date=now - timedelta(hours=20))
    dovecot.append(user, corpus.plain("recent"), internal_date=now - timedelta(hours=1))
    after = (now - timedelta(days=2)).isoformat()
    first = pipeline.add_account(user, password, name="by_date", process_after=after)
    second = pipeline.add_account(user, password, name="by_age", ignore_older_than_hours=6)

    assert pipeline.poll(first).tally.announced == 2
    assert pipeline.poll(second).tally.announced == 1
    subjects = [e["data"]["subject"] for e in pipeline.events()]
    assert subjects == ["yesterday", "recent", "recent"]


@pytest.mark.parametrize("action", ["leave", "mark_read", "move", "delete"])
def test_each_on_received_action_happens_after_the_event(
    pipeline: Pipeline, dovecot: DovecotServer, mailbox_user: tuple[str, str], action: str
) -> None:
    user, password = mailbox_user
    uid = dovecot.append(user, corpus.plain("act on me"))
    dovecot.create_folder(user, "Done")
    extra = {"move_to_folder": "Done"} if action == "move" else {}
    account = pipeline.add_account(user, password, on_email_received=action, **extra)

    assert pipeline.poll(account).tally.announced == 1

    inbox, done = dovecot.messages(user), dovecot.messages(user, "Done")
    if action == "leave":
        assert dovecot.flags(user)[uid] == ()
    elif action == "mark_read":
        assert b"\\Seen" in dovecot.flags(user)[uid]
    elif action == "move":
        assert (list(inbox), len(done)) == ([], 1)
    else:
        assert (list(inbox), list(done)) == ([], [])


def test_delete_read_messages_after_zero_and_after_n_days(
    pipeline: Pipeline, dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, password = mailbox_user
    dovecot.append(user, corpus.plain("keep two days"))
    account = pipeline.add_account(user, password, delete_read_messages=True, delete_after_days=2)
    pipeline.poll(account)
    assert len(dovecot.messages(user)) == 1
    pipeline.clock.advance(days=1)
    pipeline.poll(account)
    assert len(dovecot.messages(user)) == 1
    pipeline.clock.advance(days=1, seconds=1)
    assert pipeline.poll(account).tally.acted == 1
    assert dovecot.messages(user) == {}

    pipeline.update_account(account.name, delete_after_days=0)
    dovecot.append(user, corpus.plain("delete at once"))
    pipeline.poll(account)
    assert dovecot.messages(user) == {}
    assert len(pipeline.events()) == 2


def test_nothing_is_deleted_when_the_event_cannot_be_published(
    pipeline: Pipeline, dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, password = mailbox_user
    dovecot.append(user, corpus.plain("must survive"))
    account = pipeline.add_account(user, password, on_email_received="delete")
    pipeline.fail_publish = PublishError("broker down")

    result = pipeline.poll(account)

    assert result.outcome == "failed"
    assert len(dovecot.messages(user)) == 1
    with pipeline.database.session() as session:
        assert account.id is not None
        assert ledger.checkpoint(session, account.id, "INBOX") is None
        assert ledger.status_of(session, account.id).consecutive_failures == 1
    pipeline.fail_publish = None
    assert pipeline.poll(account).tally.announced == 1
    assert dovecot.messages(user) == {}


def test_pop3_over_ssl_by_uidl(
    pipeline: Pipeline, dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, password = mailbox_user
    for n in range(4):
        dovecot.append(user, corpus.plain(f"pop {n}"))
    account = pipeline.add_account(
        user, password, protocol="pop3", encryption="ssl", port=dovecot.pop3s_port,
        properties=f"tls_ca_file={dovecot.ca_file}",
    )  # fmt: skip

    assert pipeline.poll(account).tally.announced == 4
    dovecot.append(user, corpus.plain("pop late"))
    assert pipeline.poll(account).tally.announced == 1

    data = [e["data"] for e in pipeline.events()]
    assert all(d["uidl"] and "uid" not in d for d in data)
    assert len({d["uidl"] for d in data}) == 5


def test_a_second_poller_of_the_same_account_ends_at_once(
    pipeline: Pipeline, dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, password = mailbox_user
    dovecot.append(user, corpus.plain())
    account = pipeline.add_account(user, password)
    assert account.id is not None
    other = AccountLock(pipeline.redis, account.id)
    assert other.acquire()
    try:
        assert pipeline.poll(account).outcome == "busy"
    finally:
        other.release()
    assert int(pipeline.redis.get(redis_keys.lock_contention_count()) or 0) == 1
    assert pipeline.poll(account).tally.announced == 1


def test_a_wrong_password_marks_the_account_failing_and_backs_off(
    pipeline: Pipeline, dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, _ = mailbox_user
    account = pipeline.add_account(user, "wrong")

    result = pipeline.poll(account)

    assert result.outcome == "failed"
    assert account.id is not None
    with pipeline.database.session() as session:
        status = ledger.status_of(session, account.id)
        assert status.last_error_kind == "authentication"
        assert "wrong" not in (status.last_error or "")
    assert pipeline.postponed[0][1] >= pipeline.clock.now.timestamp() + 600


def test_hostile_and_non_ascii_folder_names_stay_inside_the_upload_dir(
    pipeline: Pipeline, dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, password = mailbox_user
    folder = "Entwürfe & Co"
    dovecot.append(user, corpus.plain("in a folder"), folder=folder)
    account = pipeline.add_account(user, password, folder=folder)

    assert pipeline.poll(account).tally.announced == 1

    path = (pipeline.upload_dir / pipeline.events()[0]["data"]["raw_path"]).resolve()
    assert path.is_relative_to(pipeline.upload_dir.resolve())
    today = datetime.now(UTC).strftime("%Y%m%d")
    assert path.parent.parent.name == today


def test_an_oversized_message_is_dead_lettered_and_can_be_replayed(
    pipeline: Pipeline, dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, password = mailbox_user
    dovecot.append(user, corpus.plain("small before"))
    dovecot.append(user, corpus.with_attachment(size=1_500_000))
    dovecot.append(user, corpus.plain("small after"))
    account = pipeline.add_account(user, password, properties="max_message_mb=1")
    assert account.id is not None

    first = pipeline.poll(account)

    assert (first.tally.announced, first.tally.dead) == (2, 1)
    assert pipeline.poll(account).tally.announced == 0  # the folder moved on past it
    with pipeline.database.session() as session:
        [letter] = ledger.dead_letters(session, account.id)
        assert "max_message_mb=1" in letter.error
        letter.dead = False  # what `mailpoll dead-letters replay` does
    pipeline.update_account(account.name, properties="max_message_mb=5")

    assert pipeline.poll(account).tally.announced == 1
    assert [e["data"]["subject"] for e in pipeline.events()][-1] == "Monthly report"
    with pipeline.database.session() as session:
        assert ledger.dead_letters(session, account.id) == []


def test_housekeeping_deletes_what_fell_due_between_polls(
    pipeline: Pipeline, dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, password = mailbox_user
    dovecot.append(user, corpus.plain("delete in a day"))
    account = pipeline.add_account(user, password, delete_read_messages=True, delete_after_days=1)
    pipeline.poll(account)
    assert run_housekeeping(pipeline.deps()) == 0
    pipeline.clock.advance(days=1, minutes=1)

    assert run_housekeeping(pipeline.deps()) == 1
    assert dovecot.messages(user) == {}


def test_a_rescan_spread_over_several_batches_repeats_nothing(
    pipeline: Pipeline, dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, password = mailbox_user
    for n in range(5):
        dovecot.append(user, corpus.plain(f"old {n}"))
    account = pipeline.add_account(user, password, max_batch=2)
    while pipeline.poll(account).tally.more_waiting:
        pass
    dovecot.reset_uidvalidity(user)
    dovecot.append(user, corpus.plain("new"))

    announced = []
    while True:
        result = pipeline.poll(account)
        announced.append(result.tally.announced)
        if not result.tally.more_waiting:
            break

    assert sum(announced) == 1
    assert [e["data"]["subject"] for e in pipeline.events()][-1] == "new"
    assert len(pipeline.events()) == 6


def test_a_poll_that_spends_its_time_budget_hands_over_to_an_immediate_next_poll(
    pipeline: Pipeline, dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, password = mailbox_user
    for n in range(3):
        dovecot.append(user, corpus.plain(f"budget {n}"))
    properties = "poll_budget_seconds=0.001\nfetch_chunk=1"
    account = pipeline.add_account(user, password, properties=properties)

    result = pipeline.poll(account)

    assert (result.tally.announced, result.tally.more_waiting) == (1, True)
    assert pipeline.enqueued == [account.id]


def test_a_stopping_worker_hands_over_after_the_chunk_in_flight(
    pipeline: Pipeline, dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, password = mailbox_user
    for n in range(5):
        dovecot.append(user, corpus.plain(f"stopping {n}"))
    account = pipeline.add_account(user, password, properties="fetch_chunk=2")
    assert account.id is not None
    deps = dataclasses.replace(pipeline.deps(), stopping=lambda: True)  # SIGTERM came

    result = poll_account(account.id, deps)

    assert (result.tally.announced, result.tally.more_waiting) == (2, True)
    assert pipeline.enqueued == [account.id]  # the next worker takes the rest at once


def test_a_failing_account_is_reported_once_per_episode_and_its_recovery_too(
    pipeline: Pipeline, dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, password = mailbox_user
    account = pipeline.add_account(user, password, port=1)  # nothing listens there
    reports: list[str] = []
    deps = dataclasses.replace(
        pipeline.deps(), notify=lambda subject, _body: reports.append(subject)
    )
    assert account.id is not None

    for _ in range(5):
        poll_account(account.id, deps)
    pipeline.update_account(account.name, port=dovecot.imap_port)
    poll_account(account.id, deps)
    poll_account(account.id, deps)

    assert reports == [
        f"mailpoll: account {account.name} is failing",
        f"mailpoll: account {account.name} works again",
    ]


def test_an_authentication_failure_is_reported_at_once(
    pipeline: Pipeline, dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, _ = mailbox_user
    account = pipeline.add_account(user, "wrong")
    reports: list[str] = []
    deps = dataclasses.replace(pipeline.deps(), notify=lambda _s, body: reports.append(body))
    assert account.id is not None
    poll_account(account.id, deps)
    assert len(reports) == 1
    assert "authentication" in reports[0]
    assert "wrong" not in reports[0].replace("wrong password", "")


def test_a_poll_without_redis_fails_with_a_trace_and_touches_nothing(
    pipeline: Pipeline, dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, password = mailbox_user
    dovecot.append(user, corpus.plain("waits for redis"))
    account = pipeline.add_account(user, password, on_email_received="delete")
    down = redis.Redis(host="127.0.0.1", port=1, retry=None, socket_connect_timeout=1)
    deps = dataclasses.replace(pipeline.deps(), redis=down)
    assert account.id is not None

    result = poll_account(account.id, deps)

    assert result.outcome == "failed"
    assert "redis" in (result.error or "").lower()
    assert len(dovecot.messages(user)) == 1
    with pipeline.database.session() as session:
        assert ledger.status_of(session, account.id).consecutive_failures == 1
    down.close()


def test_parsing_in_a_process_pool_gives_the_same_events(
    pipeline: Pipeline, dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, password = mailbox_user
    for raw in corpus.real_world():
        dovecot.append(user, raw)
    inline = pipeline.add_account(user, password, name="inline")
    pooled = pipeline.add_account(user, password, name="pooled")
    assert inline.id is not None
    assert pooled.id is not None
    parser = PoolParser(2)
    try:
        poll_account(inline.id, pipeline.deps())
        poll_account(pooled.id, dataclasses.replace(pipeline.deps(), parser=parser))
    finally:
        parser.close()

    def metadata(account: str) -> list[dict[str, Any]]:
        keep = ("subject", "from", "to", "cc", "date", "attachments", "parse_error", "sha256")
        data = [e["data"] for e in pipeline.events() if e["data"]["account"] == account]
        return [{k: d[k] for k in keep} for d in data]

    assert len(metadata("pooled")) == len(corpus.real_world())
    assert metadata("pooled") == metadata("inline")
