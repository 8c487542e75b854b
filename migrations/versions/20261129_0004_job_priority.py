"""job priority

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 08:53:42.030290
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("priority", sa.SmallInteger(), server_default="5", nullable=False)
        )
        batch_op.drop_index(batch_op.f("ix_jobs_status_run_at"))
        batch_op.create_index(
            "ix_jobs_status_priority_run_at", ["status", "priority", "run_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_status_priority_run_at")
        batch_op.create_index(
            batch_op.f("ix_jobs_status_run_at"), ["status", "run_at"], unique=False
        )
        batch_op.drop_column("priority")
