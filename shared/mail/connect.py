"""Opens the right mailbox client for an account's protocol, logged in and ready."""

from __future__ import annotations

from shared.errors import ConfigError
from shared.mail.client import Credentials, Encryption, Endpoint, MailboxClient

DEFAULT_PORTS: dict[tuple[str, str], int] = {
    ("imap", "none"): 143,
    ("imap", "starttls"): 143,
    ("imap", "ssl"): 993,
    ("pop3", "none"): 110,
    ("pop3", "starttls"): 110,
    ("pop3", "ssl"): 995,
}


def default_port(protocol: str, encryption: Encryption) -> int:
    """The well-known port of a protocol with an encryption (`use_default_port`)."""
    try:
        return DEFAULT_PORTS[(protocol, encryption)]
    except KeyError:
        raise ConfigError("protocol", f"{protocol!r} with {encryption!r} has no port") from None


def open_mailbox(
    protocol: str,
    endpoint: Endpoint,
    credentials: Credentials,
    *,
    debug: bool = False,
    account: str,
) -> MailboxClient:
    """Connect and log in; every failure is a `shared.errors` error naming the server."""
    if protocol == "imap":
        from shared.mail.imap import ImapMailbox

        return ImapMailbox(endpoint, credentials, account=account, debug=debug)
    if protocol == "pop3":
        from shared.mail.pop3 import Pop3Mailbox

        return Pop3Mailbox(endpoint, credentials, account=account, debug=debug)
    raise ConfigError("protocol", f"must be imap or pop3, not {protocol!r}")
