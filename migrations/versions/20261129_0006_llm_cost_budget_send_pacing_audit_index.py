"""llm cost, budget, send pacing, audit index

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 11:04:33.855672
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models.base

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("next_send_at", app.models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("daily_llm_budget_usd", sa.Numeric(precision=10, scale=2), nullable=True)
        )

    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_action_at", ["action", "at"], unique=False)

    with op.batch_alter_table("drafts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("prompt_tokens", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("completion_tokens", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("llm_cost_usd", sa.Numeric(precision=12, scale=6), nullable=True)
        )
        batch_op.create_index(
            "ix_drafts_account_id_created_at", ["account_id", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("drafts", schema=None) as batch_op:
        batch_op.drop_index("ix_drafts_account_id_created_at")
        batch_op.drop_column("llm_cost_usd")
        batch_op.drop_column("completion_tokens")
        batch_op.drop_column("prompt_tokens")

    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_action_at")

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("daily_llm_budget_usd")
        batch_op.drop_column("next_send_at")
