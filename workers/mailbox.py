"""Opening an account's mailbox: its endpoint, properties and credentials resolved just now."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from shared.db.models import Account
from shared.mail.client import Encryption, Endpoint, MailboxClient
from shared.mail.connect import open_mailbox
from shared.properties import Properties
from workers.credentials import CredentialSource

Opener = Callable[[Account], MailboxClient]


def endpoint_of(account: Account) -> Endpoint:
    return Endpoint(
        account.host,
        account.port,
        cast(Encryption, account.encryption),
        Properties.of(account.properties, account.type),
    )


def opener(credentials: CredentialSource) -> Opener:
    """A function that logs in to an account's mailbox; secrets are resolved per connect."""

    def open_account(account: Account) -> MailboxClient:
        found = credentials.for_account(account)
        assert found is not None  # inbound accounts never have auth_type none
        return open_mailbox(
            account.protocol or "imap",
            endpoint_of(account),
            found,
            debug=account.debug,
            account=account.name,
        )

    return open_account
