"""Table models of the configuration database and the poll pipeline's durable state."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class AccountBase(SQLModel):
    """The fields an administrator sets on an email account (the README lists them), as stored."""

    name: str = Field(max_length=100, sa_column_kwargs={"unique": True})
    enabled: bool = True
    protect_during_import: bool = False
    type: str = Field(max_length=16)
    host: str = Field(max_length=253)
    protocol: str | None = Field(default=None, max_length=8)
    encryption: str = Field(default="ssl", max_length=16)
    use_default_port: bool = True
    port: int
    auth_type: str = Field(default="local", max_length=16)
    login: str | None = Field(default=None, max_length=320)
    username_key: str | None = Field(default=None, max_length=200)
    password_key: str | None = Field(default=None, max_length=200)
    on_email_received: str | None = Field(default=None, max_length=16)
    move_to_folder: str | None = Field(default=None, max_length=255)
    client_token_config: str | None = Field(default=None, sa_type=sa.Text)
    folder: str | None = Field(default=None, max_length=255)
    test_to: str | None = Field(default=None, max_length=320)
    polling_interval: int | None = None
    max_batch: int | None = None
    process_after: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    ignore_older_than_hours: int | None = None
    properties: str = Field(default="", sa_type=sa.Text)
    delete_read_messages: bool = False
    delete_after_days: int | None = None
    debug: bool = False
    description: str = Field(default="", sa_type=sa.Text)


class Account(AccountBase, table=True):
    """An email account row: the administrator's fields, secrets encrypted, audit stamps."""

    __tablename__ = "email_accounts"
    __table_args__ = (
        # The single-outbound rule, enforced by the database against concurrent writers too.
        sa.Index(
            "ix_one_enabled_outbound",
            "type",
            unique=True,
            sqlite_where=sa.text("type = 'outbound' AND enabled"),
            postgresql_where=sa.text("type = 'outbound' AND enabled"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    password_encrypted: str | None = Field(default=None, sa_type=sa.Text)
    client_secret_encrypted: str | None = Field(default=None, sa_type=sa.Text)
    client_token_instance_encrypted: str | None = Field(default=None, sa_type=sa.Text)
    oauth_status: str | None = Field(default=None, max_length=200)
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    modified_by: str = Field(max_length=200)
    modified_at: datetime = Field(sa_type=sa.DateTime(timezone=True))


class SystemSetting(SQLModel, table=True):
    """One system setting (system email, feedback, error reports, poll interval, upload dir)."""

    __tablename__ = "system_settings"

    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(sa_type=sa.Text)
    modified_by: str = Field(max_length=200)
    modified_at: datetime = Field(sa_type=sa.DateTime(timezone=True))


class AuditEntry(SQLModel, table=True):
    """One change to an account or setting: who, when, and each field's old and new value."""

    __tablename__ = "audit_history"

    id: int | None = Field(default=None, primary_key=True)
    subject_kind: str = Field(max_length=16, index=True)  # "account" or "setting"
    subject_name: str = Field(max_length=100, index=True)
    action: str = Field(max_length=16)  # created, updated, removed, enabled, disabled, imported
    actor: str = Field(max_length=200)
    at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    changes: str = Field(default="{}", sa_type=sa.Text)  # JSON {field: [old, new]}, redacted


class FolderState(SQLModel, table=True):
    """A polled folder's checkpoint: UIDVALIDITY and the highest UID announced under it.

    `fence` is the lock fencing token of the last writer; a write with a lower token is refused,
    so a worker that lost its lock while paused cannot move a newer checkpoint backwards.
    """

    __tablename__ = "folder_states"
    __table_args__ = (sa.UniqueConstraint("account_id", "folder"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="email_accounts.id", ondelete="CASCADE", index=True)
    folder: str = Field(max_length=255)
    uidvalidity: int | None = Field(default=None, sa_type=sa.BigInteger)
    last_uid: int = Field(default=0, sa_type=sa.BigInteger)
    fence: int = Field(default=0, sa_type=sa.BigInteger)
    # After a UIDVALIDITY change, UIDs below this may name mail announced under the old one:
    # those are compared by content until the rescan has passed them.
    rescan_before_uid: int | None = Field(default=None, sa_type=sa.BigInteger)
    updated_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))


class ReceivedMessage(SQLModel, table=True):
    """The ledger: every message stored and announced, and what was done on the server since."""

    __tablename__ = "received_messages"
    __table_args__ = (
        sa.UniqueConstraint("account_id", "folder", "uidvalidity", "uid"),
        sa.UniqueConstraint("account_id", "uidl"),
        sa.Index("ix_received_pending_action", "account_id", "server_action_due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="email_accounts.id", ondelete="CASCADE", index=True)
    folder: str = Field(max_length=255)
    uidvalidity: int | None = Field(default=None, sa_type=sa.BigInteger)
    uid: int | None = Field(default=None, sa_type=sa.BigInteger)
    uidl: str | None = Field(default=None, max_length=100)
    event_id: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    message_id: str | None = Field(default=None, sa_type=sa.Text)
    sha256: str = Field(max_length=64, index=True)
    size: int = Field(sa_type=sa.BigInteger)
    raw_path: str = Field(sa_type=sa.Text)
    internal_date: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    downloaded_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    published_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    # What on_email_received / delete_read_messages still has to do, and when it was done.
    server_action: str | None = Field(default=None, max_length=16)
    server_action_due_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    server_action_done_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    # Failed tries of the pending action (it is retried with backoff), and the last error.
    server_action_attempts: int = 0
    server_action_error: str | None = Field(default=None, sa_type=sa.Text)


class IgnoredMessage(SQLModel, table=True):
    """A message the date filters passed over, so POP3 (which has no UID cursor) skips it again."""

    __tablename__ = "ignored_messages"
    __table_args__ = (sa.UniqueConstraint("account_id", "uidl"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="email_accounts.id", ondelete="CASCADE", index=True)
    uidl: str = Field(max_length=100)
    reason: str = Field(max_length=200)
    at: datetime = Field(sa_type=sa.DateTime(timezone=True))


class AccountStatus(SQLModel, table=True):
    """How an inbound account's polling goes, for `mailpoll status` and error reports."""

    __tablename__ = "account_status"

    account_id: int = Field(foreign_key="email_accounts.id", ondelete="CASCADE", primary_key=True)
    last_poll_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    last_success_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    consecutive_failures: int = 0
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    last_error_kind: str | None = Field(default=None, max_length=32)
    failing_since: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    backoff_until: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    messages_waiting: int = 0
    oldest_waiting_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    error_reported_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    # A server action (mark read, move, delete) that fails; intake goes on meanwhile.
    action_error: str | None = Field(default=None, sa_type=sa.Text)
    action_failing_since: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))


class DeadLetter(SQLModel, table=True):
    """A message that failed every try; the folder moved on past it until someone replays it."""

    __tablename__ = "dead_letters"
    __table_args__ = (sa.UniqueConstraint("account_id", "folder", "uidvalidity", "uid", "uidl"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="email_accounts.id", ondelete="CASCADE", index=True)
    folder: str = Field(max_length=255)
    uidvalidity: int | None = Field(default=None, sa_type=sa.BigInteger)
    uid: int | None = Field(default=None, sa_type=sa.BigInteger)
    uidl: str | None = Field(default=None, max_length=100)
    error: str = Field(sa_type=sa.Text)
    attempts: int = 1
    first_failed_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    last_failed_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    dead: bool = False  # True once attempts ran out and the folder moved past it
    replayed_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))


# The admin API's people and credentials (`mailpoll admins`, `mailpoll tokens`, sign-in).
# Only hashes of passwords, tokens and session ids are stored.


class AdminUser(SQLModel, table=True):
    """A person who signs in to the admin API: a role and an argon2id password hash."""

    __tablename__ = "admin_users"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, sa_column_kwargs={"unique": True})
    role: str = Field(max_length=16)  # admin or viewer
    password_hash: str = Field(sa_type=sa.Text)
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    password_changed_at: datetime = Field(sa_type=sa.DateTime(timezone=True))


class ApiToken(SQLModel, table=True):
    """A service's bearer token: its role and the SHA-256 of the token (shown once at creation)."""

    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, sa_column_kwargs={"unique": True})
    role: str = Field(max_length=16)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    hint: str = Field(max_length=16)  # the token's first characters, to tell tokens apart
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    last_used_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))


class WebSession(SQLModel, table=True):
    """A signed-in browser: the SHA-256 of its cookie, its CSRF token, when it began and was
    last seen (idle and absolute expiry)."""

    __tablename__ = "web_sessions"

    id: int | None = Field(default=None, primary_key=True)
    session_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    admin_id: int = Field(foreign_key="admin_users.id", ondelete="CASCADE", index=True)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    last_seen_at: datetime = Field(sa_type=sa.DateTime(timezone=True), index=True)


class LoginFailure(SQLModel, table=True):
    """A failed sign-in, counted per user and per client address (SHA-256 of which), in the
    database so that every replica throttles alike."""

    __tablename__ = "login_failures"
    __table_args__ = (sa.Index("ix_login_failures_key_at", "key_hash", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    key_hash: str = Field(max_length=64)
    at: datetime = Field(sa_type=sa.DateTime(timezone=True), index=True)


class ConfigState(SQLModel, table=True):
    """One row: the configuration's version, bumped in the transaction of every change of an
    account or a system setting (see shared.db.changes). A scheduler tick reads only this."""

    __tablename__ = "config_state"

    id: int = Field(default=1, primary_key=True)
    version: int = Field(default=0, sa_type=sa.BigInteger)


class ConfigChange(SQLModel, table=True):
    """What changed in a configuration version: an account (None: a system setting). No
    foreign key: a removed account is listed too."""

    __tablename__ = "config_changes"

    id: int | None = Field(default=None, primary_key=True)
    version: int = Field(sa_type=sa.BigInteger, index=True)
    account_id: int | None = Field(default=None)
