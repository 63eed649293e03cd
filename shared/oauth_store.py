"""Where an account's OAuth2 token lives: encrypted on the account row, beside its status.

One place for the command line, the web app and the workers: a consent, a device grant, a
refresh token given by hand and an hourly refresh all store the token the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from shared import oauth
from shared.accounts import audit
from shared.clock import utcnow
from shared.db.database import Database
from shared.db.models import Account
from shared.errors import ConfigError, SecretError
from shared.secrets import SecretBox


def client_of(account: Account, box: SecretBox) -> tuple[dict[str, Any], str | None]:
    """The account's client token configuration and its client secret, decrypted."""
    if account.auth_type != "oauth2":
        raise ConfigError("auth_type", f"{account.name} uses {account.auth_type}, not oauth2")
    config = json.loads(account.client_token_config or "{}")
    secret = None
    if account.client_secret_encrypted:
        secret = box.decrypt(account.client_secret_encrypted, what=f"{account.name}: client secret")
    return config, secret


def save(
    database: Database,
    box: SecretBox,
    account: Account,
    instance: oauth.TokenInstance | None,
    status: str,
    *,
    actor: str | None = None,
) -> None:
    """Store `instance` (None: keep the one held) and the status on the account's row, and on
    `account` too; with an `actor`, a new grant also goes in the audit history."""
    if account.id is None:  # values under test: keep nothing
        return
    with database.session() as session:
        row = session.get(Account, account.id)
        if row is None:
            return
        held = bool(row.client_token_instance_encrypted)
        if instance is not None:
            row.client_token_instance_encrypted = box.encrypt(instance.to_json())
            account.client_token_instance_encrypted = row.client_token_instance_encrypted
        row.oauth_status = account.oauth_status = status[:200]
        if actor is not None:
            audit.record(
                session, kind="account", name=row.name, action="authenticated", actor=actor,
                at=utcnow(),
                changes={"client_token_instance": ["(held)" if held else "(none)", "(changed)"]},
            )  # fmt: skip


def token_fields(account: Account, secrets: Callable[[], SecretBox]) -> dict[str, Any]:
    """The Client Token Instance an account holds: whom the provider issued it to, its scopes
    and when the access token runs out; {} when it holds none.

    For `accounts show` and the API's account (read from the encrypted token): never a token.
    """
    if account.auth_type != "oauth2" or not account.client_token_instance_encrypted:
        return {}
    what = f"{account.name}: token"
    try:
        text = secrets().decrypt(account.client_token_instance_encrypted, what=what)
    except SecretError as error:
        return {"token_unreadable": str(error)}
    shown = oauth.TokenInstance.from_json(text).describe()
    return {
        "token_who": shown["who"],
        "token_scopes": " ".join(shown["scopes"]) or None,
        "token_expires_at": shown["expires_at"],
    }
