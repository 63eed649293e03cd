"""The safety net: while IDLE works, the next interval poll moves to idle_poll_interval after
the last poll; a poll due now is never moved, nor one already later."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.accounts.service import AccountService
from shared.db.database import Database
from shared.db.models import AccountStatus
from shared.secrets import SecretBox
from watcher.safety import SafetyNet

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC).timestamp()


def test_the_next_poll_moves_out_only_while_it_is_not_due(
    database: Database, secret_box: SecretBox
) -> None:
    ids = []
    with database.session() as session:
        service = AccountService(session, secrets=lambda: secret_box, actor="t")
        for name in ("a", "b", "c", "d"):
            given = {"name": name, "type": "inbound", "host": "h", "login": "u"}
            account = service.add(given).account
            assert account.id is not None
            ids.append(account.id)
    with database.session() as session:
        for account_id in ids[:3]:
            last = datetime.fromtimestamp(NOW - 60, UTC)
            session.add(AccountStatus(account_id=account_id, last_poll_at=last))
    due = {ids[0]: NOW + 60, ids[1]: NOW - 1, ids[2]: NOW + 5000, ids[3]: NOW + 60}
    pushed: list[tuple[int, float]] = []
    net = SafetyNet(
        database, due_times=lambda: due, postpone=lambda i, t: pushed.append((i, t)),
        clock=lambda: NOW,
    )  # fmt: skip

    moved = net.stretch({account_id: 900.0 for account_id in ids})

    # a: pushed to its last poll + 900 s; b: due now; c: already later; d: never polled
    assert moved == [ids[0]]
    assert pushed == [(ids[0], NOW - 60 + 900)]
