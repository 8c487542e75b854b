"""comment triggers and what was done per comment, drafts of kind comment, private-reply
targets, tracked links and clicks, disclosure, opt-out, cooperation UTM parameters

Revision ID: 0013_comments_links
Revises: 0010_reply_marks
Create Date: 2026-12-07 06:03:41.138330
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models.base

revision: str = "0013_comments_links"
down_revision: str | None = "0010_reply_marks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "comment_triggers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column(
            "keywords",
            app.models.base.JSONType,
            nullable=False,
        ),
        sa.Column("media_id", sa.String(length=128), nullable=True),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("public_reply", sa.String(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            app.models.base.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            app.models.base.UTCDateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_comment_triggers_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_comment_triggers_product_id_products"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comment_triggers")),
    )
    with op.batch_alter_table("comment_triggers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_comment_triggers_account_id"), ["account_id"], unique=False
        )

    op.create_table(
        "comment_replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("trigger_id", sa.Integer(), nullable=True),
        sa.Column("comment_id", sa.String(length=128), nullable=False),
        sa.Column("media_id", sa.String(length=128), nullable=True),
        sa.Column("live", sa.Boolean(), nullable=False),
        sa.Column("commented_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("skip_reason", sa.String(length=64), nullable=True),
        sa.Column("draft_id", sa.Integer(), nullable=True),
        sa.Column("public_reply_text", sa.String(), nullable=True),
        sa.Column("public_reply_status", sa.String(length=16), nullable=True),
        sa.Column("public_reply_id", sa.String(length=128), nullable=True),
        sa.Column("created_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_comment_replies_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_comment_replies_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["draft_id"],
            ["drafts.id"],
            name=op.f("fk_comment_replies_draft_id_drafts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_comment_replies_message_id_messages"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["trigger_id"],
            ["comment_triggers.id"],
            name=op.f("fk_comment_replies_trigger_id_comment_triggers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comment_replies")),
        sa.UniqueConstraint(
            "account_id", "comment_id", name=op.f("uq_comment_replies_account_id_comment_id")
        ),
    )
    with op.batch_alter_table("comment_replies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_comment_replies_conversation_id"), ["conversation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_comment_replies_draft_id"), ["draft_id"], unique=False)
    op.create_table(
        "link_clicks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("clicks", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_link_clicks_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_link_clicks_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_clicks")),
        sa.UniqueConstraint(
            "product_id", "channel", "day", name=op.f("uq_link_clicks_product_id_channel_day")
        ),
    )
    with op.batch_alter_table("link_clicks", schema=None) as batch_op:
        batch_op.create_index("ix_link_clicks_account_id_day", ["account_id", "day"], unique=False)

    op.create_table(
        "tracked_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("created_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_click_at", app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_tracked_links_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_tracked_links_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_tracked_links_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracked_links")),
        sa.UniqueConstraint(
            "conversation_id",
            "product_id",
            name=op.f("uq_tracked_links_conversation_id_product_id"),
        ),
        sa.UniqueConstraint("token", name=op.f("uq_tracked_links_token")),
    )
    with op.batch_alter_table("tracked_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tracked_links_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_tracked_links_product_id"), ["product_id"], unique=False
        )

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("disclosure", sa.String(length=8), server_default="first", nullable=False)
        )
        batch_op.add_column(sa.Column("disclosure_text", sa.String(), nullable=True))
        batch_op.add_column(
            sa.Column("track_links", sa.Boolean(), server_default=sa.true(), nullable=False)
        )

    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("opted_out_at", app.models.base.UTCDateTime(timezone=True), nullable=True)
        )

    with op.batch_alter_table("cooperations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("utm", app.models.base.JSONType, server_default="{}", nullable=False)
        )

    with op.batch_alter_table("drafts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=8), server_default="dm", nullable=False)
        )

    with op.batch_alter_table("outbound_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("comment_id", sa.String(length=128), nullable=True))
        batch_op.add_column(
            sa.Column("codes_sent", app.models.base.JSONType, server_default="[]", nullable=False)
        )
        batch_op.add_column(
            sa.Column("links_sent", app.models.base.JSONType, server_default="[]", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("outbound_messages", schema=None) as batch_op:
        batch_op.drop_column("links_sent")
        batch_op.drop_column("codes_sent")
        batch_op.drop_column("comment_id")

    with op.batch_alter_table("drafts", schema=None) as batch_op:
        batch_op.drop_column("kind")

    with op.batch_alter_table("cooperations", schema=None) as batch_op:
        batch_op.drop_column("utm")

    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("opted_out_at")

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("track_links")
        batch_op.drop_column("disclosure_text")
        batch_op.drop_column("disclosure")

    with op.batch_alter_table("tracked_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tracked_links_product_id"))
        batch_op.drop_index(batch_op.f("ix_tracked_links_account_id"))

    op.drop_table("tracked_links")
    with op.batch_alter_table("link_clicks", schema=None) as batch_op:
        batch_op.drop_index("ix_link_clicks_account_id_day")

    op.drop_table("link_clicks")
    with op.batch_alter_table("comment_replies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_comment_replies_draft_id"))
        batch_op.drop_index(batch_op.f("ix_comment_replies_conversation_id"))

    op.drop_table("comment_replies")
    with op.batch_alter_table("comment_triggers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_comment_triggers_account_id"))

    op.drop_table("comment_triggers")
