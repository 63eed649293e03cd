"""A message whose fetch fails every time is set aside after a few polls, not retried for ever."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fakeredis

from shared.accounts.service import AccountService
from shared.clock import utcnow
from shared.db import ledger
from shared.db.database import Database
from shared.errors import ConnectError, TransientError
from shared.secrets import SecretBox
from shared.store import MessageStore
from tests.support.fake_mailbox import FakeMailbox
from workers.poll import CAREFUL_AFTER_FAILURES, PollDeps, poll_account

RAW = b"From: a@example.com\r\nSubject: %d\r\n\r\nbody\r\n"


def deps_for(
    database: Database, tmp_path: Path, mailbox: FakeMailbox
) -> tuple[PollDeps, list[Any]]:
    published: list[Any] = []

    def open_mailbox(_account: Any) -> FakeMailbox:
        mailbox.closed = False  # the fake stands for a new session each poll
        return mailbox

    deps = PollDeps(
        database=database, redis=fakeredis.FakeRedis(), store=MessageStore(tmp_path / "up"),
        publish=published.extend, open_mailbox=open_mailbox, clock=utcnow,
        enqueue_next=lambda _id: None, postpone=lambda _id, _until: None,
    )  # fmt: skip
    return deps, published


def test_a_poison_message_is_dead_lettered_and_the_rest_flows(
    database: Database, secret_box: SecretBox, tmp_path: Path
) -> None:
    mailbox = FakeMailbox()
    uids = [mailbox.add(RAW % n) for n in range(3)]
    mailbox.broken_uids[uids[1]] = TransientError("FETCH failed: [SERVERBUG] internal error")
    with database.session() as session:
        service = AccountService(session, secrets=lambda: secret_box, actor="t")
        account = service.add({"name": "a", "type": "inbound", "host": "h", "login": "u"}).account
    assert account.id is not None
    deps, published = deps_for(database, tmp_path, mailbox)

    outcomes = [poll_account(account.id, deps).outcome for _ in range(CAREFUL_AFTER_FAILURES)]
    assert outcomes == ["failed"] * CAREFUL_AFTER_FAILURES
    assert published == []  # the whole chunk failed each time

    result = poll_account(account.id, deps)

    assert (result.outcome, result.tally.announced, result.tally.dead) == ("polled", 2, 1)
    with database.session() as session:
        [letter] = ledger.dead_letters(session, account.id)
        assert letter.uid == uids[1]
        assert "SERVERBUG" in letter.error
        assert ledger.checkpoint(session, account.id, "INBOX").last_uid == uids[2]  # type: ignore[union-attr]


def test_a_network_failure_is_never_blamed_on_a_message(
    database: Database, secret_box: SecretBox, tmp_path: Path
) -> None:
    mailbox = FakeMailbox()
    uid = mailbox.add(RAW % 1)
    mailbox.broken_uids[uid] = ConnectError("connection reset")
    with database.session() as session:
        service = AccountService(session, secrets=lambda: secret_box, actor="t")
        account = service.add({"name": "a", "type": "inbound", "host": "h", "login": "u"}).account
    assert account.id is not None
    deps, _ = deps_for(database, tmp_path, mailbox)

    for _ in range(CAREFUL_AFTER_FAILURES + 2):
        assert poll_account(account.id, deps).outcome == "failed"
    with database.session() as session:
        assert ledger.dead_letters(session, account.id) == []
