"""an index for Meta's hourly cap on private replies; why a public reply failed or was
skipped; why an account's comment triggers cannot work

Revision ID: 0014_private_reply_cap
Revises: 0013_comments_links
Create Date: 2026-12-07 06:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_private_reply_cap"
down_revision: str | None = "0013_comments_links"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbound_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbound_messages_private_replies",
            ["account_id", "sent_at"],
            unique=False,
            sqlite_where=sa.text("comment_id IS NOT NULL"),
            postgresql_where=sa.text("comment_id IS NOT NULL"),
        )
    with op.batch_alter_table("comment_replies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_reply_error", sa.String(), nullable=True))
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("comments_problem", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("comments_problem")
    with op.batch_alter_table("comment_replies", schema=None) as batch_op:
        batch_op.drop_column("public_reply_error")
    with op.batch_alter_table("outbound_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_outbound_messages_private_replies")
