"""Account values to try without saving them (Test Configuration of unsaved values).

`mailpoll accounts test --file` and the API's `POST /api/account-tests` take the same JSON as
export and import (one account, or an export holding one), checked by the same rules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.accounts import form
from shared.clock import Clock, utcnow
from shared.db.models import Account
from shared.errors import ConfigError
from shared.secrets import SecretBox


def unsaved_account(
    document: Any,
    secrets: Callable[[], SecretBox],
    *,
    source: str,
    actor: str,
    default_name: str = "unsaved",
    clock: Clock = utcnow,
) -> tuple[Account, str | None]:
    """The account the document describes, never stored, and its clear password if given.

    `source` names the document in a refusal (a file name, or `body`); `default_name` is the
    account's name when the document gives none.
    """
    if isinstance(document, dict) and isinstance(document.get("accounts"), list):
        if len(document["accounts"]) != 1:
            raise ConfigError(source, "holds several accounts: give one account")
        document = document["accounts"][0]
    if not isinstance(document, dict):
        raise ConfigError(source, "expected a JSON object with the account's fields")
    document = dict(document)
    token = document.pop("password_encrypted", None)
    password = document.pop("password", None)
    if token is not None:
        password = secrets().decrypt(str(token), what="password_encrypted")
    if password is not None and not isinstance(password, str):
        raise ConfigError("password", "must be a string")
    draft = form.build(None, {"name": default_name, **document})
    now = clock()
    account = Account(
        **draft.values, created_by=actor, created_at=now, modified_by=actor, modified_at=now
    )
    return account, password
