"""Opening an account's mailbox: its endpoint, properties and credentials resolved just now."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from shared.db.models import Account
from shared.errors import AuthenticationError
from shared.mail.client import Credentials, Encryption, Endpoint, MailboxClient
from shared.mail.connect import open_mailbox
from shared.properties import Properties
from workers.account import InboundAccount
from workers.credentials import CredentialSource

Opener = Callable[[InboundAccount], MailboxClient]


def endpoint_of(account: Account) -> Endpoint:
    return Endpoint(
        account.host,
        account.port,
        cast(Encryption, account.encryption),
        Properties.of(account.properties, account.type),
    )


def opener(credentials: CredentialSource) -> Opener:
    """A function that logs in to an account's mailbox; secrets are resolved per connect."""

    def open_account(account: InboundAccount) -> MailboxClient:
        found = credentials.for_account(account.row)
        assert found is not None  # inbound accounts never have auth_type none
        try:
            return _open(account, found)
        except AuthenticationError:
            if account.auth_type != "oauth2":
                raise
        # An access token can be revoked before it runs out: refresh it once and try again.
        again = credentials.for_account(account.row, fresh_token=True)
        assert again is not None
        return _open(account, again)

    return open_account


def _open(account: InboundAccount, credentials: Credentials) -> MailboxClient:
    return open_mailbox(
        account.protocol, account.endpoint, credentials, debug=account.debug, account=account.name
    )
