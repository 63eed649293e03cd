"""The credentials to log in with, found at connect time: never stored resolved.

`local`: the password, decrypted for this connection; `external`: keystore aliases looked up
now; `oauth2`: an access token, refreshed at the provider (and the new one stored encrypted)
when the one the account holds is about to run out.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from shared import metrics, oauth, oauth_store
from shared.db.database import Database
from shared.db.models import Account
from shared.errors import AuthenticationError, MailpollError
from shared.keystore import Keystore, resolve_credentials
from shared.mail.client import Credentials
from shared.properties import Properties
from shared.secrets import SecretBox


class CredentialSource:
    def __init__(
        self,
        *,
        database: Database | None,
        secrets: Callable[[], SecretBox],
        keystore: Keystore,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._database = database
        self._secrets = secrets
        self._keystore = keystore
        self._clock = clock

    def for_account(
        self, account: Account, *, password: str | None = None, fresh_token: bool = False
    ) -> Credentials | None:
        """`password` stands in for the stored one (Test Configuration of unsaved values);
        `fresh_token` refreshes an OAuth2 access token even if it has not run out (revoked)."""
        if account.auth_type == "none":
            return None
        if account.auth_type == "oauth2":
            token = self.access_token(account, fresh=fresh_token)
            return Credentials(account.login or "", token, "xoauth2")
        if password is None and account.password_encrypted:
            password = self._decrypt(account.password_encrypted, f"{account.name}: password")
        return resolve_credentials(
            account.auth_type, account.login, password, account.username_key,
            account.password_key, self._keystore,
        )  # fmt: skip

    def access_token(self, account: Account, *, fresh: bool = False) -> str:
        if not account.client_token_instance_encrypted:
            raise AuthenticationError(
                f"{account.name}: oauth2: no token yet: authenticate it (the console's "
                f"Authenticate, or `mailpoll accounts authenticate {account.name} --device`)"
            )
        instance = oauth.TokenInstance.from_json(
            self._decrypt(account.client_token_instance_encrypted, f"{account.name}: token")
        )
        if instance.usable(self._clock()) and not fresh:
            assert instance.access_token is not None
            return instance.access_token
        renewed = self.refresh(account, instance)
        assert renewed.access_token is not None
        return renewed.access_token

    def refresh(
        self, account: Account, instance: oauth.TokenInstance, *, actor: str | None = None
    ) -> oauth.TokenInstance:
        """A new access token; the account's status says how it went, for `accounts show`.

        With an `actor` (a refresh token given by hand), the grant goes in the audit history.
        """
        config, secret = oauth_store.client_of(account, self._secrets())
        timeout = Properties.of(account.properties, account.type).timeout
        try:
            fresh = oauth.refresh(config, secret, instance, timeout=timeout, clock=self._clock)
        except MailpollError as error:
            metrics.OAUTH2_REFRESH_FAILURES.labels(metrics.failure_kind(error)).inc()
            if not isinstance(error, AuthenticationError):
                raise
            self._store(account, None, f"refresh refused: {error}")
            raise
        self._store(account, fresh, oauth.status_of(fresh), actor=actor)
        return fresh

    def _store(
        self,
        account: Account,
        instance: oauth.TokenInstance | None,
        status: str,
        *,
        actor: str | None = None,
    ) -> None:
        if self._database is not None:
            box = self._secrets()
            oauth_store.save(self._database, box, account, instance, status, actor=actor)

    def _decrypt(self, token: str, what: str) -> str:
        return self._secrets().decrypt(token, what=what)
