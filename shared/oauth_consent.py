"""OAuth2 consent in a browser: the authorization code grant with PKCE (S256) and a `state`.

`begin` makes the provider's authorize URL for an account. Its `state` is the consent itself,
encrypted with the app's key: the account, the PKCE code verifier, the redirect URI, who asked
and when. So no table holds consents in progress, and any replica can take the callback.
`finish` takes the callback's code and state, checks the state (made by us, not older than
STATE_TTL, the account still the same), exchanges the code with the verifier at the token
endpoint, and stores the token encrypted with the account.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared import oauth, oauth_store
from shared.db.database import Database
from shared.db.models import Account
from shared.errors import AuthenticationError, PermanentError, SecretError
from shared.properties import Properties
from shared.secrets import SecretBox

STATE_TTL = 600.0  # seconds from the authorize URL to the callback
_PURPOSE = "oauth2-consent"  # told apart from every other value the same key encrypts
_VERIFIER_LENGTH = 64  # characters, of the 43-128 PKCE allows


class ConsentError(PermanentError):
    """A callback that cannot finish a consent; `account` names it when the state was good."""

    def __init__(self, message: str, account: str | None = None) -> None:
        super().__init__(message)
        self.account = account


@dataclass(frozen=True)
class Granted:
    """A finished consent: the account (by its name now) and what it holds."""

    account: str
    instance: oauth.TokenInstance


def begin(
    account: Account,
    box: SecretBox,
    *,
    redirect_uri: str,
    actor: str,
    clock: Callable[[], float] = time.time,
) -> str:
    """The provider's authorize URL, for the person to open; `redirect_uri` is where this
    app's callback is, unless the account's configuration names one (behind a proxy)."""
    from authlib.common.security import generate_token

    config, secret = oauth_store.client_of(account, box)
    authorize = oauth.endpoint(config, "authorize_url")
    redirect = str(config.get("redirect_uri") or redirect_uri)
    verifier = generate_token(_VERIFIER_LENGTH)
    state = box.encrypt(
        json.dumps(
            {"for": _PURPOSE, "account": account.id, "name": account.name, "verifier": verifier,
             "redirect_uri": redirect, "config": _fingerprint(account), "actor": actor,
             "at": clock()}
        )
    )  # fmt: skip
    with oauth.session(config, secret, timeout=10.0, redirect_uri=redirect) as client:
        url, _ = client.create_authorization_url(authorize, state=state, code_verifier=verifier)
    return str(url)


def finish(
    database: Database,
    box: SecretBox,
    *,
    state: str,
    code: str | None,
    error: str | None = None,
    error_description: str | None = None,
    clock: Callable[[], float] = time.time,
) -> Granted:
    """Check the state, exchange the code, store the token; raises ConsentError if it cannot."""
    consent = _opened(box, state, clock)
    with database.session() as session:
        account = session.get(Account, consent["account"])
    if account is None:
        raise ConsentError("the account was removed while its consent was given")
    if error:
        said = oauth.words(error, error_description)
        raise ConsentError(f"oauth2: consent was refused at the provider ({said})", account.name)
    if _fingerprint(account) != consent["config"]:
        raise ConsentError(
            "the account's OAuth2 settings changed while its consent was given: start again",
            account.name,
        )
    if not code:
        raise ConsentError("the provider sent no code: start again", account.name)
    try:
        instance = _exchange(account, box, code, consent)
    except AuthenticationError as refused:
        raise ConsentError(str(refused), account.name) from None
    status = oauth.status_of(instance)
    oauth_store.save(database, box, account, instance, status, actor=str(consent["actor"]))
    return Granted(account.name, instance)


def _exchange(
    account: Account, box: SecretBox, code: str, consent: dict[str, Any]
) -> oauth.TokenInstance:
    config, secret = oauth_store.client_of(account, box)
    url = oauth.endpoint(config, "token_url")
    timeout = Properties.of(account.properties, account.type).timeout
    redirect = str(consent["redirect_uri"])
    with (
        oauth.session(config, secret, timeout=timeout, redirect_uri=redirect) as client,
        oauth.translated(url, timeout, refused="refused the code"),
    ):
        token = client.fetch_token(
            url, grant_type="authorization_code", code=code, code_verifier=consent["verifier"]
        )
    return oauth.instance_from(token, scope_asked=oauth.scope_of(config))


def _opened(box: SecretBox, state: str, clock: Callable[[], float]) -> dict[str, Any]:
    """The consent a state carries, if this app made it and it has not run out."""
    invalid = ConsentError("the consent's state is not one this app made: start again")
    try:
        consent = json.loads(box.decrypt(state, what="state"))
    except (SecretError, ValueError, UnicodeError):
        raise invalid from None
    if not isinstance(consent, dict) or consent.get("for") != _PURPOSE:
        raise invalid
    if not 0 <= clock() - float(consent["at"]) <= STATE_TTL:
        minutes = round(STATE_TTL / 60)
        raise ConsentError(
            f"the consent took longer than {minutes} minutes: start again", str(consent["name"])
        )
    return consent


def _fingerprint(account: Account) -> str:
    """Changes when the account's OAuth2 client does: a consent begun before is refused."""
    basis = f"{account.auth_type}\n{account.client_token_config or ''}"
    return hashlib.sha256(basis.encode()).hexdigest()[:32]
