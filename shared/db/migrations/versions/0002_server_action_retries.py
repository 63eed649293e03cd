"""server action retries: attempts and error per message, the failing action per account

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 03:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("received_messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("server_action_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("server_action_error", sa.Text(), nullable=True))
    with op.batch_alter_table("account_status", schema=None) as batch_op:
        batch_op.add_column(sa.Column("action_error", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("action_failing_since", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("account_status", schema=None) as batch_op:
        batch_op.drop_column("action_failing_since")
        batch_op.drop_column("action_error")
    with op.batch_alter_table("received_messages", schema=None) as batch_op:
        batch_op.drop_column("server_action_error")
        batch_op.drop_column("server_action_attempts")
