"""The account form: which fields are shown (the shared rules), the default port, what the
service is given, and the values of a saved account."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from starlette.datastructures import FormData

from shared.accounts import form
from shared.accounts.rules import APPLICABILITY
from web.console import account_form
from web.console.fields import BASIC_SETTINGS, EDITABLE


def values(**changes: object) -> dict[str, object]:
    return {**account_form.NEW_ACCOUNT, **changes}


def test_every_rule_of_the_shared_table_governs_a_field_of_the_page() -> None:
    ruled = {spec.rule for spec in BASIC_SETTINGS if spec.rule}
    assert ruled == set(APPLICABILITY)
    assert set(EDITABLE) == set(form.FIELDS) | {"password"}


@pytest.mark.parametrize(
    ("changes", "shown", "hidden"),
    [
        ({}, {"protocol", "folder", "login", "password"}, {"test_to", "username_key"}),
        ({"type": "outbound"}, {"test_to"}, {"protocol", "folder", "delete_read_messages"}),
        ({"auth_type": "external"}, {"username_key", "password_key"}, {"login", "password"}),
        (
            {"auth_type": "oauth2"},
            {"login", "client_token_config", "client_token_instance", "oauth_status"},
            {"password"},
        ),
        ({"on_email_received": "move"}, {"move_to_folder"}, set()),
        ({"delete_read_messages": True}, {"delete_after_days"}, set()),
        ({"use_default_port": False}, {"port"}, {"default_port"}),
    ],
)
def test_fields_are_available_as_the_seed_says(
    changes: dict[str, object], shown: set[str], hidden: set[str]
) -> None:
    available = account_form.available(values(**changes))
    assert shown <= available
    assert not hidden & available


@pytest.mark.parametrize(
    ("changes", "port"),
    [
        ({}, 993),
        ({"encryption": "none"}, 143),
        ({"protocol": "pop3"}, 995),
        ({"type": "outbound", "encryption": "starttls"}, 587),
        ({"encryption": "bogus"}, None),
    ],
)
def test_the_default_port_is_the_rules_one(changes: dict[str, object], port: int | None) -> None:
    assert account_form.default_port(values(**changes)) == port


def test_the_service_is_given_only_what_is_on_screen() -> None:
    on_screen = values(
        name="n", host="h", type="outbound", folder="stale", password="", port="25",
        test_to="ops@example.com",
    )  # fmt: skip
    given = account_form.given(on_screen)
    assert "folder" not in given  # hidden for outbound: not given, so the service clears it
    assert "password" not in given  # blank: keep the stored one
    assert "port" not in given  # Use Default Port is ticked
    assert given["test_to"] == "ops@example.com"
    given = account_form.given({**on_screen, "use_default_port": False, "password": "p"})
    assert (given["port"], given["password"]) == ("25", "p")


def test_a_posted_form_unticks_missing_checkboxes_and_keeps_lf_line_breaks() -> None:
    posted = FormData([("name", "n"), ("properties", "timeout=5\r\nidle=true")])
    shown = account_form.from_form(posted, values(enabled=True, debug=True))
    assert (shown["enabled"], shown["debug"]) == (False, False)
    assert shown["properties"] == "timeout=5\nidle=true"


def test_a_saved_account_shows_its_stored_batch_size_and_time_in_utc() -> None:
    view = {
        "name": "a", "type": "inbound", "max_batch": 100, "password": "(set)",
        "process_after": datetime(2026, 11, 23, 10, 0, tzinfo=UTC),
    }  # fmt: skip
    shown = account_form.from_view(view, max_batch=None)
    assert shown["max_batch"] is None  # the default is shown as a hint, not saved back
    assert shown["process_after"] == "2026-11-23T10:00:00"
    assert shown["password_set"] is True
