"""Adding, changing, enabling and removing email accounts, with audit and encrypted secrets.

Every method works inside the caller's session and only flushes, so that a command or a whole
import commits once, or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from shared.accounts import audit, form
from shared.clock import Clock, as_utc, utcnow
from shared.db.models import Account
from shared.errors import ConfigError, NotFoundError, SecretError

if TYPE_CHECKING:  # `accounts list` needs no encryption library
    from shared.secrets import SecretBox


@dataclass
class Outcome:
    """What a change did: the account as now stored, the fields changed, notes for the user."""

    account: Account
    action: str  # created, updated, unchanged, enabled, disabled, removed
    changes: dict[str, list[Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class AccountService:
    """The one place that writes email accounts."""

    def __init__(
        self,
        session: Session,
        *,
        secrets: Callable[[], SecretBox],
        actor: str,
        clock: Clock = utcnow,
    ) -> None:
        """`secrets` is called only when a secret is read or written: listing needs no key."""
        self._session = session
        self._secrets = secrets
        self._actor = actor
        self._clock = clock

    def list(self) -> list[Account]:
        return list(self._session.exec(select(Account).order_by(col(Account.name))))

    def find(self, name: str) -> Account | None:
        if not _comparable(name):
            return None  # no stored name holds it, and PostgreSQL refuses to even compare it
        return self._session.exec(select(Account).where(Account.name == name)).first()

    def get(self, name: str) -> Account:
        account = self.find(name)
        if account is None:
            raise NotFoundError(f"no email account named {name!r}")
        return account

    def add(self, given: dict[str, Any], *, action: str = "created") -> Outcome:
        name = given.get("name")
        if isinstance(name, str) and self.find(name) is not None:
            raise ConfigError("name", f"an account named {name!r} exists already")
        draft = form.build(None, given)
        now = self._clock()
        account = Account(
            **draft.values, created_by=self._actor, created_at=now,
            modified_by=self._actor, modified_at=now,
        )  # fmt: skip
        self._apply_secrets(account, draft)
        self._check_single_outbound(draft.values, None)
        self._session.add(account)
        changes = audit.diff({}, _columns(account))
        self._flush(account)
        audit.record(
            self._session, kind="account", name=account.name, action=action,
            actor=self._actor, at=now, changes=changes,
        )  # fmt: skip
        return Outcome(account, "created", changes, draft.notes)

    def update(self, name: str, given: dict[str, Any], *, action: str = "updated") -> Outcome:
        account = self.get(name)
        new_name = given.get("name")
        if new_name not in (None, name) and self.find(str(new_name)) is not None:
            raise ConfigError("name", f"an account named {new_name!r} exists already")
        before = _columns(account)
        draft = form.build(before, given, has_password=bool(account.password_encrypted))
        self._check_single_outbound(draft.values, account.id)
        for key, value in draft.values.items():
            setattr(account, key, value)
        self._apply_secrets(account, draft)
        changes = audit.diff(before, _columns(account))
        if not changes:
            # Undo the assignments (which changed nothing) and keep the account readable after
            # the session closes: expire() would leave it to be loaded from a closed session.
            self._session.refresh(account)
            return Outcome(account, "unchanged", notes=draft.notes)
        account.modified_by, account.modified_at = self._actor, self._clock()
        self._flush(account)
        audit.record(
            self._session, kind="account", name=account.name, action=action,
            actor=self._actor, at=account.modified_at, changes=changes,
        )  # fmt: skip
        return Outcome(account, "updated", changes, draft.notes)

    def set_enabled(self, name: str, enabled: bool) -> Outcome:
        outcome = self.update(
            name, {"enabled": enabled}, action="enabled" if enabled else "disabled"
        )
        if outcome.action == "updated":
            outcome.action = "enabled" if enabled else "disabled"
        return outcome

    def remove(self, name: str) -> Outcome:
        account = self.get(name)
        changes = audit.diff(_columns(account), {})
        self._session.delete(account)
        self._session.flush()
        audit.record(
            self._session, kind="account", name=name, action="removed",
            actor=self._actor, at=self._clock(), changes=changes,
        )  # fmt: skip
        return Outcome(account, "removed", changes)

    def password_of(self, account: Account) -> str | None:
        """The clear password, for the mailbox client only: never for display or export."""
        if not account.password_encrypted:
            return None
        return self._secrets().decrypt(account.password_encrypted, what=f"{account.name}: password")

    def _apply_secrets(self, account: Account, draft: form.Draft) -> None:
        if draft.clear_password:
            account.password_encrypted = None
        if draft.password and not self._holds(account.password_encrypted, draft.password):
            account.password_encrypted = self._secrets().encrypt(draft.password)
        if draft.client_secret:
            account.client_secret_encrypted = self._secrets().encrypt(draft.client_secret)
        if account.auth_type != "oauth2":
            account.client_secret_encrypted = None
            account.client_token_instance_encrypted = None
            account.oauth_status = None

    def _holds(self, token: str | None, clear: str) -> bool:
        """Whether `token` already encrypts `clear`: giving the same password again changes
        nothing, so a re-run import or update reports `unchanged`."""
        if not token:
            return False
        try:
            return self._secrets().decrypt(token, what="password") == clear
        except SecretError:
            return False

    def _check_single_outbound(self, values: dict[str, Any], account_id: int | None) -> None:
        """Refuse a second enabled outbound account, naming the one that is active."""
        if values["type"] != "outbound" or not values["enabled"]:
            return
        query = select(Account).where(Account.type == "outbound", col(Account.enabled).is_(True))
        if account_id is not None:
            query = query.where(Account.id != account_id)
        active = self._session.exec(query).first()
        if active is not None:
            raise ConfigError(
                "enabled",
                f"outbound account {active.name!r} is already enabled; only one outbound "
                "account can be active (disable it first, or add this one with --disabled)",
            )

    def _flush(self, account: Account) -> None:
        try:
            self._session.flush()
        except IntegrityError as error:
            self._session.rollback()
            if "outbound" in str(error.orig):
                raise ConfigError(
                    "enabled", "another outbound account was enabled at the same time"
                ) from None
            raise ConfigError("name", f"an account named {account.name!r} exists already") from None


def _comparable(text: str) -> bool:
    """Text a database can compare: UTF-8, without NUL."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def _columns(account: Account) -> dict[str, Any]:
    values = {key: getattr(account, key) for key in Account.model_fields}
    values["process_after"] = as_utc(values["process_after"])
    return values
