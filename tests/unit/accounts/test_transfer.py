"""Export and import between instances: no clear secrets out, protected accounts untouched."""

from __future__ import annotations

import json
from typing import Any

from shared.accounts.service import AccountService
from shared.accounts.transfer import export_accounts, import_accounts
from shared.secrets import SecretBox, new_key

PASSWORD = "export-me-never-in-clear"
INBOUND = {"name": "support", "type": "inbound", "host": "imap.example.com", "login": "u"}
RELAY = {"name": "relay", "type": "outbound", "host": "smtp.example.com", "auth_type": "none"}


def document(*accounts: dict[str, Any]) -> dict[str, Any]:
    return {"accounts": [dict(a) for a in accounts]}


def test_export_never_holds_a_clear_password(service: AccountService) -> None:
    service.add({**INBOUND, "password": PASSWORD})
    plain = json.dumps(export_accounts(service.list()))
    assert PASSWORD not in plain
    assert "password" not in plain
    with_secrets = export_accounts(service.list(), with_secrets=True)
    assert PASSWORD not in json.dumps(with_secrets)
    assert with_secrets["accounts"][0]["password_encrypted"]


def test_import_creates_updates_and_reports(service: AccountService, secret_box: SecretBox) -> None:
    service.add(INBOUND)
    service.add({**INBOUND, "name": "same"})
    incoming = document(
        {**INBOUND, "host": "new.example.com"}, {**INBOUND, "name": "same"}, {**RELAY}
    )
    report = import_accounts(service, secret_box, incoming)
    assert report.ok
    assert (report.created, report.updated, report.unchanged) == (["relay"], ["support"], ["same"])
    assert service.get("support").host == "new.example.com"


def test_import_never_overwrites_or_prunes_a_protected_account(
    service: AccountService, secret_box: SecretBox
) -> None:
    service.add({**INBOUND, "protect_during_import": True})
    service.add({**INBOUND, "name": "kept", "protect_during_import": True})
    service.add({**INBOUND, "name": "doomed"})
    incoming = document({**INBOUND, "host": "attacker.example.com", "protect_during_import": False})
    report = import_accounts(service, secret_box, incoming, prune=True)
    assert report.skipped_protected == ["support", "kept"]
    assert report.removed == ["doomed"]
    assert service.get("support").host == "imap.example.com"
    assert service.get("support").protect_during_import


def test_one_refused_account_means_nothing_is_written(
    service: AccountService, secret_box: SecretBox
) -> None:
    incoming = document({**INBOUND, "name": "good"}, {**INBOUND, "name": "bad", "port": 0})
    report = import_accounts(service, secret_box, incoming)
    assert not report.ok
    assert report.refused == [("bad", "port: must be between 1 and 65535 (got 0)")]
    assert report.created == []
    assert service.find("good") is None


def test_import_refuses_a_second_enabled_outbound_account(
    service: AccountService, secret_box: SecretBox
) -> None:
    service.add(RELAY)
    report = import_accounts(service, secret_box, document({**RELAY, "name": "relay2"}))
    assert len(report.refused) == 1
    assert "only one outbound" in report.refused[0][1]


def test_import_takes_clear_or_encrypted_passwords(
    service: AccountService, secret_box: SecretBox
) -> None:
    token = secret_box.encrypt(PASSWORD)
    incoming = document(
        {**INBOUND, "password": PASSWORD}, {**INBOUND, "name": "b", "password_encrypted": token}
    )
    assert import_accounts(service, secret_box, incoming).ok
    assert service.password_of(service.get("support")) == PASSWORD
    assert service.password_of(service.get("b")) == PASSWORD


def test_an_encrypted_password_from_another_key_is_refused(
    service: AccountService, secret_box: SecretBox
) -> None:
    foreign = SecretBox(new_key()).encrypt(PASSWORD)
    report = import_accounts(
        service, secret_box, document({**INBOUND, "password_encrypted": foreign})
    )
    assert report.refused
    assert "another MAILPOLL_SECRET_KEY" in report.refused[0][1]


def test_an_import_without_passwords_keeps_the_targets_password(
    service: AccountService, secret_box: SecretBox
) -> None:
    service.add({**INBOUND, "password": PASSWORD})
    exported = export_accounts(service.list())
    exported["accounts"][0]["description"] = "changed"
    assert import_accounts(service, secret_box, exported).updated == ["support"]
    assert service.password_of(service.get("support")) == PASSWORD


def test_malformed_documents_are_refused(service: AccountService, secret_box: SecretBox) -> None:
    assert not import_accounts(service, secret_box, [1, 2]).ok
    assert not import_accounts(service, secret_box, {"accounts": [{"host": "x"}]}).ok
    twice = document(INBOUND, INBOUND)
    assert (
        import_accounts(service, secret_box, twice)
        .refused[0][1]
        .endswith("listed twice in the file")
    )


def test_export_then_import_round_trips(service: AccountService, secret_box: SecretBox) -> None:
    service.add({**INBOUND, "process_after": "2026-01-02T03:04:05Z", "properties": "timeout=5"})
    exported = export_accounts(service.list())
    service.remove("support")
    assert import_accounts(service, secret_box, json.loads(json.dumps(exported))).created
    assert export_accounts(service.list()) == exported
