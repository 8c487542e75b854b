"""voice examples: an index of the drafts a person decided

Revision ID: 0012_voice
Revises: 0008_attempt_counters
Create Date: 2026-12-07 03:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_voice"
down_revision: str | None = "0008_attempt_counters"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("drafts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_drafts_person_decided",
            ["account_id", "language", "created_at"],
            unique=False,
            sqlite_where=sa.text("decided_by_user_id IS NOT NULL"),
            postgresql_where=sa.text("decided_by_user_id IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("drafts", schema=None) as batch_op:
        batch_op.drop_index("ix_drafts_person_decided")
