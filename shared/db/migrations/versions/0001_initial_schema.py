"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24 14:21:41.591363
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_kind", sa.String(length=16), nullable=False),
        sa.Column("subject_name", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changes", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_history_subject_kind"), ["subject_kind"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_audit_history_subject_name"), ["subject_name"], unique=False
        )

    op.create_table(
        "email_accounts",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("protect_during_import", sa.Boolean(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("host", sa.String(length=253), nullable=False),
        sa.Column("protocol", sa.String(length=8), nullable=True),
        sa.Column("encryption", sa.String(length=16), nullable=False),
        sa.Column("use_default_port", sa.Boolean(), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("auth_type", sa.String(length=16), nullable=False),
        sa.Column("login", sa.String(length=320), nullable=True),
        sa.Column("username_key", sa.String(length=200), nullable=True),
        sa.Column("password_key", sa.String(length=200), nullable=True),
        sa.Column("on_email_received", sa.String(length=16), nullable=True),
        sa.Column("move_to_folder", sa.String(length=255), nullable=True),
        sa.Column("client_token_config", sa.Text(), nullable=True),
        sa.Column("folder", sa.String(length=255), nullable=True),
        sa.Column("test_to", sa.String(length=320), nullable=True),
        sa.Column("polling_interval", sa.Integer(), nullable=True),
        sa.Column("max_batch", sa.Integer(), nullable=True),
        sa.Column("process_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ignore_older_than_hours", sa.Integer(), nullable=True),
        sa.Column("properties", sa.Text(), nullable=False),
        sa.Column("delete_read_messages", sa.Boolean(), nullable=False),
        sa.Column("delete_after_days", sa.Integer(), nullable=True),
        sa.Column("debug", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("password_encrypted", sa.Text(), nullable=True),
        sa.Column("client_secret_encrypted", sa.Text(), nullable=True),
        sa.Column("client_token_instance_encrypted", sa.Text(), nullable=True),
        sa.Column("oauth_status", sa.String(length=200), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_by", sa.String(length=200), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    with op.batch_alter_table("email_accounts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_one_enabled_outbound",
            ["type"],
            unique=True,
            sqlite_where=sa.text("type = 'outbound' AND enabled"),
            postgresql_where=sa.text("type = 'outbound' AND enabled"),
        )

    op.create_table(
        "system_settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("modified_by", sa.String(length=200), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "account_status",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("last_poll_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_kind", sa.String(length=32), nullable=True),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("backoff_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("messages_waiting", sa.Integer(), nullable=False),
        sa.Column("oldest_waiting_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error_reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["email_accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("account_id"),
    )
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("folder", sa.String(length=255), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=True),
        sa.Column("uid", sa.BigInteger(), nullable=True),
        sa.Column("uidl", sa.String(length=100), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dead", sa.Boolean(), nullable=False),
        sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["email_accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "folder", "uidvalidity", "uid", "uidl"),
    )
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dead_letters_account_id"), ["account_id"], unique=False
        )

    op.create_table(
        "folder_states",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("folder", sa.String(length=255), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=True),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("fence", sa.BigInteger(), nullable=False),
        sa.Column("rescan_before_uid", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["email_accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "folder"),
    )
    with op.batch_alter_table("folder_states", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_folder_states_account_id"), ["account_id"], unique=False
        )

    op.create_table(
        "received_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("folder", sa.String(length=255), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=True),
        sa.Column("uid", sa.BigInteger(), nullable=True),
        sa.Column("uidl", sa.String(length=100), nullable=True),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("raw_path", sa.Text(), nullable=False),
        sa.Column("internal_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("downloaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("server_action", sa.String(length=16), nullable=True),
        sa.Column("server_action_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("server_action_done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["email_accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "folder", "uidvalidity", "uid"),
        sa.UniqueConstraint("account_id", "uidl"),
        sa.UniqueConstraint("event_id"),
    )
    with op.batch_alter_table("received_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_received_messages_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_received_messages_sha256"), ["sha256"], unique=False)
        batch_op.create_index(
            "ix_received_pending_action", ["account_id", "server_action_due_at"], unique=False
        )
    op.create_table(
        "ignored_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("uidl", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["email_accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "uidl"),
    )
    with op.batch_alter_table("ignored_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ignored_messages_account_id"), ["account_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("ignored_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ignored_messages_account_id"))

    op.drop_table("ignored_messages")
    with op.batch_alter_table("received_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_received_pending_action")
        batch_op.drop_index(batch_op.f("ix_received_messages_sha256"))
        batch_op.drop_index(batch_op.f("ix_received_messages_account_id"))

    op.drop_table("received_messages")
    with op.batch_alter_table("folder_states", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_folder_states_account_id"))

    op.drop_table("folder_states")
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dead_letters_account_id"))

    op.drop_table("dead_letters")
    op.drop_table("account_status")
    op.drop_table("system_settings")
    with op.batch_alter_table("email_accounts", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_one_enabled_outbound",
            sqlite_where=sa.text("type = 'outbound' AND enabled"),
            postgresql_where=sa.text("type = 'outbound' AND enabled"),
        )

    op.drop_table("email_accounts")
    with op.batch_alter_table("audit_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_history_subject_name"))
        batch_op.drop_index(batch_op.f("ix_audit_history_subject_kind"))

    op.drop_table("audit_history")
