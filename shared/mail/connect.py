"""Opens the right mailbox client for an account's protocol, logged in and ready."""

from __future__ import annotations

from shared.errors import ConfigError
from shared.mail.client import Credentials, Endpoint, MailboxClient, StartedTLS


def open_mailbox(
    protocol: str,
    endpoint: Endpoint,
    credentials: Credentials,
    *,
    debug: bool = False,
    account: str,
    on_starttls: StartedTLS | None = None,
) -> MailboxClient:
    """Connect and log in; every failure is a `shared.errors` error naming the server.

    `on_starttls` is given the server's certificate once STARTTLS has succeeded.
    """
    if protocol == "imap":
        from shared.mail.imap import ImapMailbox

        return ImapMailbox(
            endpoint, credentials, account=account, debug=debug, on_starttls=on_starttls
        )
    if protocol == "pop3":
        from shared.mail.pop3 import Pop3Mailbox

        return Pop3Mailbox(
            endpoint, credentials, account=account, debug=debug, on_starttls=on_starttls
        )
    raise ConfigError("protocol", f"must be imap or pop3, not {protocol!r}")
