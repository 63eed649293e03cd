"""Opening an account's mailbox: its endpoint, properties and credentials resolved just now."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from shared.db.models import Account
from shared.keystore import Keystore, resolve_credentials
from shared.mail.client import Encryption, Endpoint, MailboxClient
from shared.mail.connect import open_mailbox
from shared.properties import Properties
from shared.secrets import SecretBox

Opener = Callable[[Account], MailboxClient]


def opener(secrets: Callable[[], SecretBox], keystore: Keystore) -> Opener:
    """A function that logs in to an account's mailbox; secrets are decrypted per connect."""

    def open_account(account: Account) -> MailboxClient:
        password = None
        if account.password_encrypted:
            password = secrets().decrypt(
                account.password_encrypted, what=f"{account.name}: password"
            )
        credentials = resolve_credentials(
            account.auth_type,
            account.login,
            password,
            account.username_key,
            account.password_key,
            keystore,
        )
        endpoint = Endpoint(
            account.host,
            account.port,
            cast(Encryption, account.encryption),
            Properties.of(account.properties, account.type),
        )
        return open_mailbox(
            account.protocol or "imap",
            endpoint,
            credentials,
            debug=account.debug,
            account=account.name,
        )

    return open_account
