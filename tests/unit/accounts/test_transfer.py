"""Export and import between instances: no clear secrets out, protected accounts untouched."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.accounts.service import AccountService
from shared.accounts.transfer import export_accounts, import_accounts
from shared.errors import ConfigError
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


NOT_AN_EXPORT = 'in.json: expected a JSON object {"version": 1, "accounts": [...]}'
READS = "is not understood: this mailpoll reads version 1"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([1, 2], NOT_AN_EXPORT),
        ({"version": 1}, NOT_AN_EXPORT),
        ({"version": 2, "accounts": []}, f"version: 2 {READS}"),
        ({"version": "1", "accounts": []}, f"version: '1' {READS}"),
        ({"version": True, "accounts": []}, f"version: True {READS}"),
    ],
)
def test_a_document_that_is_not_an_export_is_refused_whole(
    service: AccountService, secret_box: SecretBox, document: Any, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        import_accounts(service, secret_box, document, source="in.json")
    assert str(caught.value) == message


def test_malformed_entries_are_refused(service: AccountService, secret_box: SecretBox) -> None:
    report = import_accounts(service, secret_box, {"accounts": [{"host": "x"}, 5, {"name": 7}]})
    assert report.refused == [
        ("(entry 1)", "name: is required, as text"),
        ("(entry 2)", "must be a JSON object of account fields"),
        ("(entry 3)", "name: is required, as text"),
    ]
    twice = document(INBOUND, INBOUND)
    assert (
        import_accounts(service, secret_box, twice)
        .refused[0][1]
        .endswith("listed twice in the file")
    )


def test_every_problem_of_an_entry_is_reported(
    service: AccountService, secret_box: SecretBox
) -> None:
    bad = {**INBOUND, "name": "bad", "port": 0, "folder": "..", "colour": "red", "max_batch": 0}
    report = import_accounts(service, secret_box, document(bad, {**INBOUND, "name": "good"}))
    assert sorted(reason.split(":")[0] for name, reason in report.refused) == [
        "colour", "folder", "max_batch", "port",
    ]  # fmt: skip
    assert {name for name, _ in report.refused} == {"bad"}
    assert service.find("good") is None


def test_the_new_outbound_entry_is_refused_not_the_enabled_one(
    service: AccountService, secret_box: SecretBox
) -> None:
    service.add({**RELAY, "name": "zz-relay"})
    report = import_accounts(service, secret_box, document({**RELAY, "name": "aa-new"}))
    assert [name for name, _ in report.refused] == ["aa-new"]
    assert "outbound account 'zz-relay' is already enabled" in report.refused[0][1]


def test_the_second_outbound_entry_of_a_file_is_refused(
    service: AccountService, secret_box: SecretBox
) -> None:
    incoming = document({**RELAY, "name": "zz-first"}, {**RELAY, "name": "aa-second"})
    report = import_accounts(service, secret_box, incoming)
    assert [name for name, _ in report.refused] == ["aa-second"]
    assert "'zz-first' is already enabled" in report.refused[0][1]


def test_an_import_may_swap_the_enabled_outbound_account(
    service: AccountService, secret_box: SecretBox
) -> None:
    service.add(RELAY)
    incoming = document({**RELAY, "enabled": False}, {**RELAY, "name": "relay2"})
    assert import_accounts(service, secret_box, incoming).ok
    assert not service.get("relay").enabled


def test_updated_accounts_come_with_their_changes(
    service: AccountService, secret_box: SecretBox
) -> None:
    service.add({**INBOUND, "password": PASSWORD})
    incoming = document({**INBOUND, "host": "new.example.com", "password": "other"})
    report = import_accounts(service, secret_box, incoming)
    assert report.changes == {
        "support": {"host": ["imap.example.com", "new.example.com"],
                    "password": ["(set)", "(changed)"]}
    }  # fmt: skip
    assert "other" not in json.dumps(report.changes)


def test_the_same_password_again_changes_nothing(
    service: AccountService, secret_box: SecretBox
) -> None:
    service.add({**INBOUND, "password": PASSWORD})
    report = import_accounts(service, secret_box, document({**INBOUND, "password": PASSWORD}))
    assert (report.unchanged, report.changes) == (["support"], {})


def test_export_then_import_round_trips(service: AccountService, secret_box: SecretBox) -> None:
    service.add({**INBOUND, "process_after": "2026-01-02T03:04:05Z", "properties": "timeout=5"})
    exported = export_accounts(service.list())
    service.remove("support")
    assert import_accounts(service, secret_box, json.loads(json.dumps(exported))).created
    assert export_accounts(service.list()) == exported
