"""States that real life produces: a Redis that lost its data, failing server actions, a POP3
server that renumbered its UIDLs, a broker gone while the next batch is asked for."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from shared.db import ledger
from shared.db.models import FolderState, ReceivedMessage
from shared.store import STAGING
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


def stored_fence(pipeline: Pipeline, account_id: int, fence: int) -> None:
    with pipeline.database.session() as session:
        session.execute(
            sa.update(FolderState).where(FolderState.account_id == account_id).values(fence=fence)  # type: ignore[arg-type]
        )


def test_a_redis_that_lost_its_data_costs_no_failed_poll(
    pipeline: Pipeline, dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, password = mailbox_user
    dovecot.append(user, corpus.plain("before"))
    account = pipeline.add_account(user, password)
    assert account.id is not None
    assert pipeline.poll(account).outcome == "polled"
    stored_fence(pipeline, account.id, 210)  # a cluster that has polled this account for long
    pipeline.redis.flushdb()  # restarted without persistence, or failed over
    dovecot.append(user, corpus.plain("after"))

    result = pipeline.poll(account)

    assert result.outcome == "polled", result.error
    assert result.tally.announced == 1
    with pipeline.database.session() as session:
        assert ledger.highest_fence(session, account.id) == 211
    assert len(pipeline.events()) == 2


def move_account(pipeline: Pipeline, user: str, password: str, folder: str) -> int:
    account = pipeline.add_account(user, password, on_email_received="move", move_to_folder=folder)
    assert account.id is not None
    return account.id


def action_error(pipeline: Pipeline, account_id: int) -> str | None:
    with pipeline.database.session() as session:
        return ledger.status_of(session, account_id).action_error


def test_a_move_to_a_missing_folder_never_stops_intake_and_is_retried(
    pipeline: Pipeline, dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, password = mailbox_user
    account_id = move_account(pipeline, user, password, "Archive")  # Cyrus: INBOX.Archive
    dovecot.append(user, corpus.plain("one"))

    first = poll_account(account_id, pipeline.deps())
    dovecot.append(user, corpus.plain("two"))
    second = poll_account(account_id, pipeline.deps())

    assert (first.outcome, first.tally.announced) == ("polled", 1)
    assert (second.outcome, second.tally.announced) == ("polled", 1)  # intake goes on
    assert len(dovecot.messages(user)) == 2  # nothing moved, nothing lost
    assert "'Archive'" in (action_error(pipeline, account_id) or "")

    dovecot.create_folder(user, "Archive")
    pipeline.clock.advance(hours=1)  # past the action's backoff
    third = poll_account(account_id, pipeline.deps())

    assert third.tally.acted == 2
    assert dovecot.messages(user) == {}
    assert len(dovecot.messages(user, "Archive")) == 2
    assert action_error(pipeline, account_id) is None


@pytest.mark.parametrize(("switch_to", "left_on_server"), [("leave", 1), ("delete", 0)])
def test_a_changed_on_email_received_supersedes_the_queued_moves(
    pipeline: Pipeline,
    dovecot: DovecotServer,
    mailbox_user: tuple[str, str],
    switch_to: str,
    left_on_server: int,
) -> None:
    user, password = mailbox_user
    account_id = move_account(pipeline, user, password, "Missing")
    dovecot.append(user, corpus.plain("one"))
    assert poll_account(account_id, pipeline.deps()).tally.announced == 1

    name = user.replace(".", "_")
    pipeline.update_account(name, on_email_received=switch_to)
    pipeline.clock.advance(hours=1)
    result = poll_account(account_id, pipeline.deps())

    assert result.outcome == "polled", result.error
    assert len(dovecot.messages(user)) == left_on_server
    assert action_error(pipeline, account_id) is None
    with pipeline.database.session() as session:
        row = session.exec(sa.select(ReceivedMessage)).scalars().one()  # type: ignore[call-overload]
    assert row.server_action_done_at is not None  # nothing is left queued, no move to ''


def test_pop3_mail_under_new_uidls_keeps_its_event_id(
    pipeline: Pipeline, dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, password = mailbox_user
    for n in range(3):
        dovecot.append(user, corpus.plain(f"old {n}"))
    account = pipeline.add_account(user, password, protocol="pop3", port=dovecot.pop3_port)
    assert pipeline.poll(account).tally.announced == 3
    dovecot.reset_uidvalidity(user)  # the UIDL format carries UIDVALIDITY: every UIDL changes
    dovecot.append(user, corpus.plain("new"))

    result = pipeline.poll(account)

    assert result.tally.announced == 1
    assert result.tally.repeated == 3
    assert len({event["id"] for event in pipeline.events()}) == 4
    again = pipeline.poll(account)
    assert (again.tally.announced, again.tally.repeated) == (0, 0)  # the new UIDLs are known


def test_pop3_deletes_follow_a_message_to_its_new_uidl(
    pipeline: Pipeline, dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, password = mailbox_user
    dovecot.append(user, corpus.plain("kept a day"))
    account = pipeline.add_account(
        user, password, protocol="pop3", port=dovecot.pop3_port,
        delete_read_messages=True, delete_after_days=1,
    )  # fmt: skip
    assert pipeline.poll(account).tally.announced == 1
    dovecot.reset_uidvalidity(user)
    assert pipeline.poll(account).tally.repeated == 1

    pipeline.clock.advance(days=2)
    result = pipeline.poll(account)

    assert result.tally.acted == 1
    assert dovecot.messages(user) == {}


def test_a_broker_gone_while_the_next_batch_is_asked_for_fails_nothing(
    pipeline: Pipeline, dovecot: DovecotServer, mailbox_user: tuple[str, str]
) -> None:
    user, password = mailbox_user
    for n in range(3):
        dovecot.append(user, corpus.plain(f"message {n}"))
    account = pipeline.add_account(user, password, max_batch=2)
    assert account.id is not None

    def broker_down(account_id: int) -> None:
        raise ConnectionError("Error 111 connecting to localhost:6379. Connection refused.")

    deps = dataclasses.replace(pipeline.deps(), enqueue_next=broker_down)
    result = poll_account(account.id, deps)

    assert (result.outcome, result.tally.announced) == ("polled", 2)
    assert poll_account(account.id, deps).tally.announced == 1  # the schedule's next poll


def test_housekeeping_removes_what_a_killed_save_left_behind(pipeline: Pipeline) -> None:
    staging = pipeline.upload_dir / STAGING
    staging.mkdir(parents=True)
    stale, fresh = staging / "a.eml.x1.tmp", staging / "b.eml.x2.tmp"
    for path in (stale, fresh):
        path.write_bytes(b"half a message")
    hours_ago = time.time() - 2 * 3600
    os.utime(stale, (hours_ago, hours_ago))

    run_housekeeping(pipeline.deps())

    assert not stale.exists()
    assert fresh.exists()  # may belong to a save in flight
