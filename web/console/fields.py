"""The seed's Basic Settings of an email account: labels, order, help text and input kinds.

Presentation only. When a field is available comes from `shared.accounts.rules.APPLICABILITY`
(the rules the command line and the API enforce), never from a copy here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal[
    "text", "number", "checkbox", "select", "password", "textarea", "datetime", "readonly"
]
Choices = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class FieldSpec:
    """One row of the Properties tab. `rule` names the APPLICABILITY entry that says when the
    field is available (None: always)."""

    name: str
    label: str
    kind: Kind
    help: str
    choices: Choices = ()
    rule: str | None = None
    more: str = ""  # the seed's "Click here to expand..." text, or a side note


_PROTECT_MORE = (
    "When you have several instances of mailpoll, for example development and production, you "
    "may want some settings to differ between them. Usually an import from the source instance "
    "overwrites the target's settings. Tick this box on the target to keep its own."
)
_KEYSTORE_NOTE = (
    "Your system administrator adds usernames, passwords and their aliases (keys) to the "
    "keystore, and tells you which key to use."
)
AUTH_CHOICES: Choices = (
    ("local", "Local"),
    ("external", "External (keystore)"),
    ("oauth2", "OAuth2"),
    ("none", "None (outbound relays)"),
)

BASIC_SETTINGS: tuple[FieldSpec, ...] = (
    FieldSpec("name", "Name", "text", "Enter the name of the configured email account."),
    FieldSpec(
        "enabled", "Enabled", "checkbox",
        "Tick to make this email account active. An outbound account is used to send emails "
        "whenever required; an inbound account is polled at its polling interval and new "
        "messages are downloaded.",
    ),
    FieldSpec(
        "protect_during_import", "Protect During Import", "checkbox",
        "Tick to keep this account's settings, and the account itself, when accounts are "
        "imported from another instance. Untick to allow an import to update or delete it.",
        more=_PROTECT_MORE,
    ),
    FieldSpec(
        "type", "Type", "select",
        "Outbound sends emails; there can only be one active outbound account at any one "
        "time. Inbound receives (downloads) emails.",
        choices=(("inbound", "Inbound"), ("outbound", "Outbound")),
    ),
    FieldSpec("host", "Host", "text", "Enter the host address of the email server."),
    FieldSpec(
        "protocol", "Protocol", "select",
        "Available when Type is Inbound. Select the protocol used to fetch emails.",
        choices=(("imap", "IMAP"), ("pop3", "POP3")), rule="protocol",
    ),
    FieldSpec(
        "encryption", "Encryption", "select",
        "Select the encryption used when sending or receiving emails.",
        choices=(("ssl", "SSL/TLS"), ("starttls", "STARTTLS"), ("none", "None")),
    ),
    FieldSpec(
        "use_default_port", "Use Default Port", "checkbox",
        "Tick to calculate the port from the protocol and encryption type.",
    ),
    FieldSpec(
        "default_port", "Default Port", "readonly",
        "The port calculated from the protocol and encryption.",
    ),
    FieldSpec(
        "port", "Port", "number",
        "Available when Use Default Port is not selected. Enter the port number of the email "
        "server.",
    ),
    FieldSpec(
        "auth_type", "Authorisation Type", "select",
        "Local: a login and password kept here, encrypted. External: the username and password "
        "come from the keystore, by their keys. OAuth2: a token from the provider, obtained "
        "with Authenticate. None: no login (outbound relays only).",
        choices=AUTH_CHOICES,
    ),
    FieldSpec(
        "login", "Login", "text",
        "Available when Authorisation Type is Local or OAuth2. Enter the username used to log "
        "in to the email account.", rule="login",
    ),
    FieldSpec(
        "password", "Password", "password",
        "Available when Authorisation Type is Local. Enter the password used to log in to the "
        "email account. It is stored encrypted and never shown; leave blank to keep it.",
        rule="password",
    ),
    FieldSpec(
        "username_key", "Username Key", "text",
        "Available when Authorisation Type is External. Enter the alias that identifies the "
        "username in the keystore.", rule="username_key", more=_KEYSTORE_NOTE,
    ),
    FieldSpec(
        "password_key", "Password Key", "text",
        "Available when Authorisation Type is External. Enter the alias that identifies the "
        "password in the keystore.", rule="password_key",
    ),
    FieldSpec(
        "on_email_received", "On Email Received", "select",
        "Available when Type is Inbound. What happens on the server to a message once it is "
        "downloaded: leave it, mark it as read, move it to a folder, or delete it.",
        choices=(
            ("leave", "Leave"), ("mark_read", "Mark as read"),
            ("move", "Move to folder"), ("delete", "Delete"),
        ),
        rule="on_email_received",
    ),
    FieldSpec(
        "move_to_folder", "Move To Folder", "text",
        "Available when On Email Received is Move to folder. The folder messages are moved to.",
        rule="move_to_folder",
    ),
    FieldSpec(
        "client_token_config", "Client Token Configuration", "textarea",
        "Available when Authorisation Type is OAuth2. The provider's OAuth2 client as JSON: "
        "client_id and token_url (required), authorize_url, scopes, client_secret (stored "
        "encrypted, never shown), provider.", rule="client_token_config",
    ),
    FieldSpec(
        "client_token_instance", "Client Token Instance", "readonly",
        "Available when Authorisation Type is OAuth2. Read-only: the token the provider issued.",
        rule="client_token_config",
    ),
    FieldSpec(
        "oauth_status", "Status", "readonly",
        "Available when Authorisation Type is OAuth2. Read-only. Use Authenticate to obtain "
        "a token.", rule="client_token_config",
    ),
    FieldSpec(
        "folder", "Folder", "text",
        "Available when Type is Inbound. The folder emails are fetched from; blank means the "
        "inbox. Collected emails are saved to <upload directory>/default/in/YYYYMMDD/<folder>.",
        rule="folder",
    ),
    FieldSpec(
        "test_to", "Test To", "text",
        "Available when Type is Outbound. The address test emails are sent to.", rule="test_to",
    ),
    FieldSpec(
        "polling_interval", "Polling Interval (s)", "number",
        "Available when Type is Inbound. Seconds between polls; blank uses the system's "
        "default polling interval.", rule="polling_interval",
    ),
    FieldSpec(
        "max_batch", "Maximum emails fetched in one batch", "number",
        "Available when Type is Inbound. The most emails retrieved in one poll.",
        rule="max_batch",
    ),
    FieldSpec(
        "process_after", "Process messages after", "datetime",
        "Available when Type is Inbound. Messages received before this date and time (UTC) "
        "are ignored.", rule="process_after",
    ),
    FieldSpec(
        "ignore_older_than_hours", "Ignore messages older than (hours)", "number",
        "Available when Type is Inbound. Messages received more than this many hours ago are "
        "ignored.", rule="ignore_older_than_hours",
    ),
    FieldSpec(
        "properties", "Properties", "textarea",
        "key=value settings of the account, one pair a line (the documented keys are listed "
        "below).",
    ),
    FieldSpec(
        "delete_read_messages", "Delete Read Messages", "checkbox",
        "Available when Type is Inbound. Tick to delete emails from the mail server after "
        "they are downloaded.", rule="delete_read_messages",
    ),
    FieldSpec(
        "delete_after_days", "Delete After Days", "number",
        "Available when Delete Read Messages is selected. Days messages are kept on the server "
        "before they are deleted; blank or 0 deletes them right after download.",
        rule="delete_after_days",
    ),
    FieldSpec("debug", "Debug", "checkbox", "Tick to write the mail protocol trace to the log."),
)  # fmt: skip

DESCRIPTION = FieldSpec(
    "description", "Description", "textarea",
    "We recommend that you always enter a description to explain the purpose of this account.",
)  # fmt: skip
BY_NAME = {spec.name: spec for spec in (*BASIC_SETTINGS, DESCRIPTION)}
#: Fields the form sends back: everything an administrator can type or tick.
EDITABLE = tuple(spec.name for spec in (*BASIC_SETTINGS, DESCRIPTION) if spec.kind != "readonly")
#: Changing one of these changes which fields are available, or the default port.
SHAPING = ("type", "protocol", "encryption", "use_default_port", "auth_type",
           "on_email_received", "delete_read_messages")  # fmt: skip
