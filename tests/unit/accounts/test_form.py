"""The seed's "available when" rules and value checks, through `form.build`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from shared.accounts import form
from shared.errors import ConfigError

EXTERNAL = {"auth_type": "external", "login": None, "username_key": "u", "password_key": "p"}
INBOUND = {"name": "support", "type": "inbound", "host": "imap.example.com", "login": "u"}
OUTBOUND = {"name": "relay", "type": "outbound", "host": "smtp.example.com", "auth_type": "none"}


def refused(given: dict[str, Any], current: dict[str, Any] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        form.build(current, given)
    assert "\n" not in str(caught.value)
    return caught.value


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"type": "inbound", "host": "h"}, "name"),
        ({"name": "a", "host": "h"}, "type"),
        ({"name": "a", "type": "inbound"}, "host"),
        ({**INBOUND, "type": "sideways"}, "type"),
        ({**INBOUND, "name": "has space"}, "name"),
        ({**INBOUND, "name": "dot.ted"}, "name"),
        ({**INBOUND, "name": "x" * 101}, "name"),
        ({**INBOUND, "host": "bad host"}, "host"),
        ({**INBOUND, "protocol": "nntp"}, "protocol"),
        ({**INBOUND, "encryption": "tls"}, "encryption"),
        ({**INBOUND, "auth_type": "kerberos"}, "auth_type"),
        ({**INBOUND, "auth_type": "none"}, "auth_type"),
        ({**INBOUND, "on_email_received": "archive"}, "on_email_received"),
        ({**INBOUND, "port": 0}, "port"),
        ({**INBOUND, "port": 65536}, "port"),
        ({**INBOUND, "port": "abc"}, "port"),
        ({**INBOUND, "use_default_port": False}, "port"),
        ({**INBOUND, "port": 1143, "use_default_port": True}, "port"),
        ({**INBOUND, "polling_interval": 0}, "polling_interval"),
        ({**INBOUND, "max_batch": 0}, "max_batch"),
        ({**INBOUND, "max_batch": "many"}, "max_batch"),
        ({**INBOUND, "ignore_older_than_hours": 0}, "ignore_older_than_hours"),
        ({**INBOUND, "process_after": "yesterday"}, "process_after"),
        ({**INBOUND, "properties": "nonsense=1"}, "properties"),
        ({**INBOUND, "properties": "timeout=-1"}, "properties"),
        ({**INBOUND, "properties": "smtp_helo=me"}, "properties"),
        ({**INBOUND, "properties": "no equals sign"}, "properties"),
        ({**INBOUND, "properties": "tls_ca_file=/nonexistent/ca.pem"}, "properties"),
        ({**INBOUND, "login": None}, "login"),
        ({**INBOUND, "colour": "red"}, "colour"),
    ],
)
def test_bad_values_are_refused_naming_the_field(given: dict[str, Any], field: str) -> None:
    assert refused(given).field == field


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({**OUTBOUND, "protocol": "imap"}, "protocol"),
        ({**OUTBOUND, "folder": "INBOX"}, "folder"),
        ({**OUTBOUND, "on_email_received": "delete"}, "on_email_received"),
        ({**OUTBOUND, "polling_interval": 60}, "polling_interval"),
        ({**OUTBOUND, "max_batch": 10}, "max_batch"),
        ({**OUTBOUND, "process_after": "2026-01-01T00:00:00"}, "process_after"),
        ({**OUTBOUND, "ignore_older_than_hours": 5}, "ignore_older_than_hours"),
        ({**OUTBOUND, "delete_read_messages": True}, "delete_read_messages"),
        ({**INBOUND, "test_to": "a@example.com"}, "test_to"),
        ({**INBOUND, "move_to_folder": "Done"}, "move_to_folder"),
        ({**INBOUND, "delete_after_days": 3}, "delete_after_days"),
        ({**INBOUND, "username_key": "alias"}, "username_key"),
        ({**INBOUND, "password_key": "alias"}, "password_key"),
        ({**INBOUND, "client_token_config": "{}"}, "client_token_config"),
        (
            {
                **INBOUND,
                "auth_type": "external",
                "login": None,
                "username_key": "u",
                "password": "p",
            },
            "password",
        ),
        ({**OUTBOUND, "login": "someone"}, "login"),
    ],
)
def test_a_field_that_is_not_available_is_refused(given: dict[str, Any], field: str) -> None:
    error = refused(given)
    assert error.field == field
    assert "only when" in error.message


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({**INBOUND, "on_email_received": "move"}, "move_to_folder"),
        ({**INBOUND, "auth_type": "external", "login": None, "username_key": "u"}, "password_key"),
        ({**INBOUND, "auth_type": "oauth2"}, "client_token_config"),
        ({**INBOUND, "protocol": "pop3", "on_email_received": "mark_read"}, "on_email_received"),
        ({**INBOUND, "protocol": "pop3", "on_email_received": "move", "move_to_folder": "x"},
         "on_email_received"),
        ({**INBOUND, "protocol": "pop3", "folder": "Archive"}, "folder"),
        ({**OUTBOUND, "test_to": "Eve <eve@example.com>"}, "test_to"),
        ({**OUTBOUND, "test_to": "a@example.com\r\nBcc: x@example.com"}, "test_to"),
        ({**INBOUND, "auth_type": "oauth2", "client_token_config": "not json"},
         "client_token_config"),
        ({**INBOUND, "auth_type": "oauth2", "client_token_config": '{"client_id": "x"}'},
         "client_token_config"),
        ({**INBOUND, "auth_type": "oauth2",
          "client_token_config": '{"client_id": "x", "token_url": "file:///etc/passwd"}'},
         "client_token_config"),
    ],
)  # fmt: skip
def test_fields_required_together_and_impossible_combinations(
    given: dict[str, Any], field: str
) -> None:
    assert refused(given).field == field


@pytest.mark.parametrize(
    "folder",
    ["../etc", "a/../../b", "/etc/passwd", "\\windows", "C:evil", "a//b", ".", "x\x00y", "x\ny"],
)
def test_folder_names_that_could_escape_the_upload_directory_are_refused(folder: str) -> None:
    assert refused({**INBOUND, "folder": folder}).field == "folder"
    given = {**INBOUND, "on_email_received": "move", "move_to_folder": folder}
    assert refused(given).field == "move_to_folder"


@pytest.mark.parametrize("folder", ["INBOX", "Archive/2026", "Entwürfe", "Team.Sales", "a b"])
def test_ordinary_folder_names_are_kept(folder: str) -> None:
    assert form.build(None, {**INBOUND, "folder": folder}).values["folder"] == folder


@pytest.mark.parametrize(
    ("given", "port"),
    [
        ({"protocol": "imap", "encryption": "none"}, 143),
        ({"protocol": "imap", "encryption": "starttls"}, 143),
        ({"protocol": "imap", "encryption": "ssl"}, 993),
        ({"protocol": "pop3", "encryption": "none"}, 110),
        ({"protocol": "pop3", "encryption": "starttls"}, 110),
        ({"protocol": "pop3", "encryption": "ssl"}, 995),
    ],
)
def test_default_inbound_ports_follow_protocol_and_encryption(
    given: dict[str, Any], port: int
) -> None:
    assert form.build(None, {**INBOUND, **given}).values["port"] == port


@pytest.mark.parametrize(("encryption", "port"), [("none", 25), ("starttls", 587), ("ssl", 465)])
def test_default_smtp_ports(encryption: str, port: int) -> None:
    values = form.build(None, {**OUTBOUND, "encryption": encryption}).values
    assert (values["port"], values["use_default_port"]) == (port, True)


def test_a_port_given_by_hand_turns_the_default_port_off() -> None:
    values = form.build(None, {**INBOUND, "port": "1993"}).values
    assert (values["port"], values["use_default_port"]) == (1993, False)


def test_changing_encryption_recomputes_the_default_port_but_not_a_custom_one() -> None:
    stored = form.build(None, INBOUND).values
    assert form.build(stored, {"encryption": "none"}).values["port"] == 143
    custom = form.build(None, {**INBOUND, "port": 2000}).values
    assert form.build(custom, {"encryption": "none"}).values["port"] == 2000


def test_new_inbound_accounts_get_the_documented_defaults() -> None:
    values = form.build(None, INBOUND).values
    assert values["protocol"] == "imap"
    assert values["encryption"] == "ssl"
    assert values["auth_type"] == "local"
    assert values["on_email_received"] == "leave"
    assert values["enabled"] is True


def test_fields_that_stop_applying_are_cleared_with_a_note() -> None:
    stored = form.build(None, {**INBOUND, "folder": "Archive", "polling_interval": 30}).values
    draft = form.build(stored, {"type": "outbound"})
    assert draft.values["folder"] is None
    assert draft.values["polling_interval"] is None
    assert draft.values["protocol"] is None
    assert any(note.startswith("folder cleared") for note in draft.notes)


def test_switching_away_from_local_auth_drops_the_stored_password() -> None:
    stored = form.build(None, INBOUND).values
    given = {"auth_type": "external", "username_key": "u", "password_key": "p"}
    draft = form.build(stored, given, has_password=True)
    assert draft.clear_password
    assert draft.values["login"] is None


def test_an_empty_value_clears_an_optional_field() -> None:
    stored = form.build(None, {**INBOUND, "folder": "Archive"}).values
    assert form.build(stored, {"folder": ""}).values["folder"] is None


def test_process_after_without_a_zone_is_utc_and_zones_are_converted() -> None:
    naive = form.build(None, {**INBOUND, "process_after": "2026-11-01T08:00:00"}).values
    assert naive["process_after"] == datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    zoned = form.build(None, {**INBOUND, "process_after": "2026-11-01T10:00:00+02:00"}).values
    assert zoned["process_after"] == datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def test_properties_are_stored_in_canonical_form() -> None:
    text = "# comment\n timeout = 5 \n\ntls_verify=false"
    values = form.build(None, {**INBOUND, "properties": text}).values
    assert values["properties"] == "timeout=5\ntls_verify=false"


def test_the_oauth_client_secret_is_split_off_for_encryption() -> None:
    config = '{"client_id": "c", "token_url": "https://t", "client_secret": "s3cr3t"}'
    draft = form.build(None, {**INBOUND, "auth_type": "oauth2", "client_token_config": config})
    assert draft.client_secret == "s3cr3t"
    assert "s3cr3t" not in draft.values["client_token_config"]


def test_a_missing_password_is_allowed_but_noted() -> None:
    assert any("password is not set" in note for note in form.build(None, INBOUND).notes)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("polling_interval", 99999999999, "must be at most 604800 seconds (got 99999999999)"),
        ("polling_interval", 604801, "must be at most 604800 seconds (got 604801)"),
        ("max_batch", 100001, "must be at most 100000 messages (got 100001)"),
        ("ignore_older_than_hours", 876601, "must be at most 876600 hours (got 876601)"),
        ("port", 99999999999, "must be between 1 and 65535 (got 99999999999)"),
    ],
)
def test_whole_numbers_have_documented_upper_bounds(field: str, value: int, message: str) -> None:
    error = refused({**INBOUND, field: value})
    assert (error.field, error.message) == (field, message)


def test_delete_after_days_is_at_most_a_hundred_years() -> None:
    error = refused({**INBOUND, "delete_read_messages": True, "delete_after_days": 36501})
    assert str(error) == "delete_after_days: must be at most 36500 days (got 36501)"


def test_the_upper_bounds_themselves_are_taken() -> None:
    given = {
        **INBOUND, "polling_interval": 604800, "max_batch": 100000,
        "ignore_older_than_hours": 876600, "delete_read_messages": True,
        "delete_after_days": 36500,
    }  # fmt: skip
    assert form.build(None, given).values["delete_after_days"] == 36500


def test_check_all_finds_every_problem_even_past_a_required_field() -> None:
    given = {**INBOUND, "name": "has space", "host": "bad host", "folder": "..", "port": 0}
    draft, problems = form.check_all(None, given)
    assert draft is None
    assert sorted(p.field for p in problems) == ["folder", "host", "name", "port"]


def test_check_all_of_a_good_account_is_its_draft() -> None:
    draft, problems = form.check_all(None, INBOUND)
    assert problems == []
    assert draft is not None
    assert draft.values["name"] == "support"


DATE_TIME = "not a date-time: use ISO 8601 like 2026-11-23T10:00:00Z"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("process_after", "tomorrow", f"{DATE_TIME} (got 'tomorrow')"),
        ("process_after", "99999-01-01", f"{DATE_TIME} (got '99999-01-01')"),
        ("process_after", "2026-13-01", f"{DATE_TIME} (got '2026-13-01')"),
        ("process_after", "0001-01-01T00:00:00+01:00",
         f"{DATE_TIME} (got '0001-01-01 00:00:00+01:00')"),
        ("polling_interval", "1m", "must be a whole number of seconds (got '1m')"),
        ("polling_interval", 1.5, "must be a whole number of seconds (got 1.5)"),
        ("max_batch", "lots", "must be a whole number of messages (got 'lots')"),
        ("ignore_older_than_hours", "a day", "must be a whole number of hours (got 'a day')"),
        ("port", "imaps", "must be a whole number (got 'imaps')"),
        ("enabled", "maybe", "must be true or false (got 'maybe')"),
        ("host", 5, "must be text (got 5)"),
        ("login", "x" * 400, "must be at most 320 characters (got 400)"),
        ("description", ["x"] * 100, f"must be text (got {str(['x'] * 15)[:-1]}, '...)"),
    ],
)  # fmt: skip
def test_a_value_of_the_wrong_form_says_the_expected_form(
    field: str, value: Any, message: str
) -> None:
    error = refused({**INBOUND, field: value})
    assert (error.field, error.message) == (field, message)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "support\n", "must not contain line breaks or other control characters"),
        ("host", "imap.example.com\n", "must not contain line breaks or other control characters"),
        ("login", "u\tv", "must not contain line breaks or other control characters"),
        ("password", "pass\nword", "must not contain line breaks or other control characters"),
        ("description", "a\x00b", "must not contain NUL characters"),
        ("folder", "Inbox\udcff", "is not UTF-8 text (it holds an undecodable byte)"),
        ("description", "caf\udce9", "is not UTF-8 text (it holds an undecodable byte)"),
        ("password", 12345, "must be text"),
    ],
)
def test_text_no_server_or_database_takes_is_refused(field: str, value: Any, message: str) -> None:
    error = refused({**INBOUND, field: value})
    assert (error.field, error.message) == (field, message)


def test_a_description_may_have_several_lines() -> None:
    assert form.build(None, {**INBOUND, "description": "a\nb"}).values["description"] == "a\nb"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("timeout=abc", "timeout='abc': must be a number of seconds greater than 0 and at most "
         "604800"),
        ("timeout=inf", "timeout='inf': must be a number of seconds greater than 0"),
        ("timeout=1e308", "timeout='1e308': must be a number of seconds greater than 0"),
        ("fetch_chunk=1.5", "fetch_chunk='1.5': must be a whole number of at least 1 and at "
         "most 1000000"),
        ("fetch_chunk=99999999999", "fetch_chunk='99999999999': must be a whole number"),
    ],
)  # fmt: skip
def test_property_values_say_the_expected_form(text: str, message: str) -> None:
    error = refused({**INBOUND, "properties": text})
    assert error.field == "properties"
    assert error.message.startswith(message)
