"""The account options of `accounts add` and `accounts update`: the account fields with dashes."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from shared import properties
from shared.accounts import rules
from shared.errors import ConfigError

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def _choices(values: tuple[str, ...]) -> str:
    return "|".join(values)


# (field, metavar, help). Values are checked by shared.accounts, so every refusal names the
# field the same way whether it came from the command line or an import file.
VALUE_OPTIONS: list[tuple[str, str, str]] = [
    ("type", _choices(rules.TYPES), "inbound polls a mailbox; outbound sends mail"),
    ("host", "HOST", "mail server host name or IP address"),
    ("protocol", _choices(rules.PROTOCOLS), "inbound only [default: imap]"),
    ("encryption", _choices(rules.ENCRYPTIONS), "ssl = implicit TLS [default: ssl]"),
    ("port", "PORT", "a port of your own (turns --use-default-port off)"),
    ("auth_type", _choices(rules.AUTH_TYPES), "[default: local]; none: outbound relays only"),
    ("login", "USER", "user name (auth local or oauth2)"),
    ("username_key", "ALIAS", "keystore alias of the user name (auth external)"),
    ("password_key", "ALIAS", "keystore alias of the password (auth external)"),
    (
        "on_email_received",
        _choices(rules.ON_RECEIVED),
        "inbound: what to do on the server once a message is stored and announced",
    ),
    ("move_to_folder", "FOLDER", "target folder of --on-email-received move"),
    ("client_token_config", "JSON", "OAuth2 client: client_id, token_url, client_secret, scopes"),
    ("folder", "FOLDER", "inbound folder to read [default: INBOX]"),
    ("test_to", "ADDRESS", "outbound: where a configuration test sends its mail"),
    ("polling_interval", "SECONDS", "inbound; blank: the default polling interval"),
    ("max_batch", "N", "inbound: most messages fetched by one poll [default: 100]"),
    (
        "process_after",
        "DATETIME",
        "inbound: ignore mail received before this (ISO 8601, UTC if no zone)",
    ),
    ("ignore_older_than_hours", "HOURS", "inbound: ignore mail older than this at poll time"),
    ("delete_after_days", "DAYS", "with --delete-read-messages: days to keep; 0 = at once"),
    ("description", "TEXT", "free text: what the account is for"),
]
FLAG_OPTIONS: list[tuple[str, str, str, str]] = [
    ("enabled", "enabled", "disabled", "enabled accounts poll (inbound) or send (outbound)"),
    (
        "protect_during_import",
        "protect-during-import",
        "no-protect-during-import",
        "an import never overwrites or removes a protected account",
    ),
    ("use_default_port", "use-default-port", "no-use-default-port", "port from protocol"),
    (
        "delete_read_messages",
        "delete-read-messages",
        "keep-read-messages",
        "inbound: delete mail from the server after download",
    ),
    ("debug", "debug", "no-debug", "protocol trace in the logs (credentials redacted)"),
]


def account_options(*, for_update: bool) -> Decorator:
    """All account options; on update, only the ones given change the account."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        for field, metavar, help_text in reversed(VALUE_OPTIONS):
            flag = "--" + field.replace("_", "-")
            command = click.option(flag, field, metavar=metavar, help=help_text)(command)
        for field, on, off, help_text in reversed(FLAG_OPTIONS):
            option = click.option(f"--{on}/--{off}", field, default=None, help=help_text)
            command = option(command)
        command = click.option(
            "--property",
            "property_edits",
            multiple=True,
            metavar="KEY=VALUE",
            help="set an account property (repeatable; KEY= removes it). Keys: "
            + ", ".join(properties.SPECS),
        )(command)
        command = click.option(
            "--password-stdin",
            is_flag=True,
            help="read the password from standard input (auth local)",
        )(command)
        if for_update:
            command = click.option("--rename", "new_name", metavar="NAME", help="new name")(command)
        return command

    return decorate


def given_values(options: dict[str, Any], current_properties: str | None) -> dict[str, Any]:
    """The fields the user gave, as the account form takes them."""
    fields = [f for f, _, _ in VALUE_OPTIONS] + [f for f, _, _, _ in FLAG_OPTIONS]
    given = {f: options[f] for f in fields if options.get(f) is not None}
    if options.get("new_name") is not None:
        given["name"] = options["new_name"]
    if options.get("property_edits"):
        given["properties"] = _edit_properties(current_properties, options["property_edits"])
    if options.get("password_stdin"):
        given["password"] = read_password()
    return given


def read_password() -> str:
    """One line from stdin (a terminal prompts without echo); never from the command line."""
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, err=True)
    else:
        password = _stdin_line().rstrip("\r\n")
    if not password:
        raise ConfigError("password", "--password-stdin read an empty password")
    return str(password)


def _stdin_line() -> str:
    """One line of stdin as UTF-8, whatever the locale says; other bytes are one clear error."""
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is None:  # a text stream without bytes beneath (tests, embedding)
        return sys.stdin.readline()
    try:
        return str(buffer.readline().decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError("password", "is not UTF-8 text") from None


def _edit_properties(current: str | None, edits: tuple[str, ...]) -> str:
    values = properties.parse_lines(current)
    for edit in edits:
        key, sep, value = edit.partition("=")
        if not sep or not key.strip():
            raise ConfigError("properties", f"--property wants KEY=VALUE (got {edit!r})")
        if value.strip():
            values[key.strip()] = value.strip()
        else:
            values.pop(key.strip(), None)
    return properties.format_lines(values)
