"""Adding and changing accounts: single outbound, encryption at rest, audit history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import Session

from shared.accounts import audit
from shared.accounts.service import AccountService
from shared.db.database import Database
from shared.errors import ConfigError, NotFoundError

PASSWORD = "Pa55-word-that-must-never-be-stored-in-clear"
INBOUND = {"name": "support", "type": "inbound", "host": "imap.example.com", "login": "u"}
RELAY = {"name": "relay", "type": "outbound", "host": "smtp.example.com", "auth_type": "none"}


def test_the_password_is_encrypted_at_rest(
    service: AccountService, session: Session, database: Database
) -> None:
    account = service.add({**INBOUND, "password": PASSWORD}).account
    session.commit()
    assert account.password_encrypted
    assert PASSWORD not in account.password_encrypted
    assert service.password_of(account) == PASSWORD
    assert url_path(database).read_bytes().find(PASSWORD.encode()) == -1
    assert PASSWORD not in json.dumps([e.changes for e in history(session)])


def url_path(database: Database) -> Path:
    return Path(database.url.removeprefix("sqlite:///"))


def history(session: Session, name: str = "support") -> list[audit.AuditEntry]:
    return audit.history(session, kind="account", name=name)


def test_names_are_unique(service: AccountService) -> None:
    service.add(INBOUND)
    with pytest.raises(ConfigError, match="exists already") as caught:
        service.add({**INBOUND, "host": "other.example.com"})
    assert caught.value.field == "name"


def test_a_second_enabled_outbound_account_is_refused_naming_the_first(
    service: AccountService,
) -> None:
    service.add(RELAY)
    with pytest.raises(ConfigError, match="'relay' is already enabled") as caught:
        service.add({**RELAY, "name": "relay2"})
    assert caught.value.field == "enabled"
    service.add({**RELAY, "name": "relay2", "enabled": False})
    with pytest.raises(ConfigError, match="'relay'"):
        service.set_enabled("relay2", True)
    service.set_enabled("relay", False)
    assert service.set_enabled("relay2", True).action == "enabled"


def test_the_database_itself_refuses_two_enabled_outbound_accounts(
    service: AccountService, session: Session
) -> None:
    service.add(RELAY)
    service.add({**RELAY, "name": "relay2", "enabled": False})
    session.commit()
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError):
        session.execute(text("UPDATE email_accounts SET enabled = true WHERE name = 'relay2'"))
    session.rollback()


def test_an_update_changes_only_the_given_fields_and_is_audited(
    service: AccountService, session: Session
) -> None:
    service.add({**INBOUND, "password": PASSWORD, "folder": "Archive"})
    outcome = service.update("support", {"polling_interval": 30, "password": "new-secret"})
    assert outcome.action == "updated"
    assert outcome.account.folder == "Archive"
    assert outcome.changes == {"polling_interval": [None, 30], "password": ["(set)", "(changed)"]}
    entries = history(session)
    assert [e.action for e in entries] == ["created", "updated"]
    assert json.loads(entries[1].changes)["password"] == ["(set)", "(changed)"]
    assert entries[1].actor == "tester"
    assert "new-secret" not in entries[1].changes


def test_an_update_that_changes_nothing_is_not_audited(
    service: AccountService, session: Session
) -> None:
    service.add(INBOUND)
    assert service.update("support", {"host": "imap.example.com"}).action == "unchanged"
    assert [e.action for e in history(session)] == ["created"]


def test_audit_stamps_are_set(service: AccountService) -> None:
    account = service.add(INBOUND).account
    assert (account.created_by, account.modified_by) == ("tester", "tester")
    assert account.created_at == account.modified_at


def test_a_refused_update_leaves_the_account_as_it_was(
    service: AccountService, session: Session
) -> None:
    service.add(INBOUND)
    session.commit()
    with pytest.raises(ConfigError):
        service.update("support", {"host": "ok.example.com", "port": 99999})
    session.rollback()
    assert service.get("support").host == "imap.example.com"


def test_remove_keeps_the_history(service: AccountService, session: Session) -> None:
    service.add(INBOUND)
    service.remove("support")
    with pytest.raises(NotFoundError):
        service.get("support")
    assert [e.action for e in history(session)] == ["created", "removed"]


def test_rename(service: AccountService) -> None:
    service.add(INBOUND)
    service.add({**INBOUND, "name": "other"})
    with pytest.raises(ConfigError, match="exists already"):
        service.update("support", {"name": "other"})
    assert service.update("support", {"name": "helpdesk"}).account.name == "helpdesk"


def test_an_unchanged_account_stays_readable_after_the_session_ends(
    service: AccountService, session: Session
) -> None:
    service.add(INBOUND)
    session.commit()
    outcome = service.update("support", {"host": "imap.example.com"})
    session.commit()
    session.close()
    assert (outcome.action, outcome.account.name) == ("unchanged", "support")
