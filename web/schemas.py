"""The documents the admin API answers with, declared so that the OpenAPI document is exact.

The account document is built from the account's fields (`shared.db.models.AccountBase`), so
a new field shows up in the API and its schema without an edit here. Secrets appear only as
set / not set.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, create_model

from shared.db.models import AccountBase

SecretState = Literal["(set)", "(not set)"]


def _account_model() -> type[BaseModel]:
    fields: dict[str, Any] = {
        name: (info.annotation, ...) for name, info in AccountBase.model_fields.items()
    }
    fields.update(
        password=(SecretState | None, None),
        client_secret=(SecretState | None, None),
        client_token_instance=(Literal["(held)", "(none)"] | None, None),
        oauth_status=(str | None, None),
        token_who=(str | None, None),
        token_scopes=(str | None, None),
        token_expires_at=(datetime | None, None),
        token_unreadable=(str | None, None),
        created_by=(str, ...),
        created_at=(datetime, ...),
        modified_by=(str, ...),
        modified_at=(datetime, ...),
    )
    return create_model(
        "Account",
        __config__=ConfigDict(extra="allow"),
        __doc__="An email account: every field, secrets only as (set) / (not set).",
        **fields,
    )


Account = _account_model()


class AccountPage(BaseModel):
    """A page of accounts by name; pass `next_cursor` as `cursor` for the next (null: last)."""

    items: list[Account]  # type: ignore[valid-type]
    next_cursor: str | None


class AccountChange(BaseModel):
    """What a change did: created, updated, unchanged, enabled or disabled; each changed
    field as [old, new]; notes such as a field cleared because it stopped applying."""

    action: str
    account: Account  # type: ignore[valid-type]
    changes: dict[str, list[Any]]
    notes: list[str]


class HistoryEntry(BaseModel):
    """One change of an account or setting: who, when, each field's old and new value."""

    id: int
    subject_kind: str
    subject_name: str
    action: str
    actor: str
    at: datetime
    changes: dict[str, list[Any]]


def account_fields_schema() -> dict[str, Any]:
    """The JSON schema of an account's writable fields, for the OpenAPI document only: the
    values are checked by the account rules, which refuse with the command line's words."""
    fields: dict[str, Any] = {
        name: (Optional[info.annotation], None)  # noqa: UP045  (a type made at run time)
        for name, info in AccountBase.model_fields.items()
    }
    fields["password"] = (str | None, None)
    model = create_model("AccountFields", __config__=ConfigDict(extra="forbid"), **fields)
    return model.model_json_schema()
