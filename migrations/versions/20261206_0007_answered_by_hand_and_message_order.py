"""answered by hand, messages by conversation and id

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 21:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("answered_by_hand_through_id", sa.Integer(), nullable=True))
    # Replies people made before this column existed still answer what came before them:
    # echoes of the influencer's or another app's replies, and replies by hand in the desk
    # (a moderator's send without a draft).
    op.execute(
        "UPDATE conversations SET answered_by_hand_through_id = ("
        " SELECT max(messages.id) FROM messages"
        " WHERE messages.conversation_id = conversations.id AND messages.direction = 'out'"
        " AND (messages.author IN ('influencer', 'other_app')"
        " OR (messages.author = 'moderator' AND messages.outbound_id IN"
        " (SELECT id FROM outbound_messages WHERE draft_id IS NULL))))"
    )

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_messages_conversation_id_id", ["conversation_id", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_conversation_id_id")

    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("answered_by_hand_through_id")
