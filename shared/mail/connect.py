"""Opens the right mailbox client for an account's protocol, logged in and ready."""

from __future__ import annotations

from shared.errors import ConfigError
from shared.mail.client import Credentials, Endpoint, MailboxClient


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
