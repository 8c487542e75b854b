from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import utc_now
from app.models.base import Base, Timestamped


class CommentTrigger(Timestamped, Base):
    """Keywords under a post (or any post) that a private reply DM answers."""

    __tablename__ = "comment_triggers"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    keywords: Mapped[list[Any]] = mapped_column(default=list)
    media_id: Mapped[str | None] = mapped_column(String(128))  # None: any post of the account
    # The product the DM is about; None: the drafter answers the comment's text.
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="SET NULL"))
    # Texts posted under the comment, one per line; one is picked per comment.
    public_reply: Mapped[str | None]
    active: Mapped[bool] = mapped_column(default=True)


class CommentReply(Base):
    """What was done about one comment: at most one private reply (and one public reply)."""

    __tablename__ = "comment_replies"
    __table_args__ = (UniqueConstraint("account_id", "comment_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    trigger_id: Mapped[int | None] = mapped_column(
        ForeignKey("comment_triggers.id", ondelete="SET NULL")
    )
    comment_id: Mapped[str] = mapped_column(String(128))
    media_id: Mapped[str | None] = mapped_column(String(128))
    live: Mapped[bool] = mapped_column(default=False)  # a comment on a live broadcast
    commented_at: Mapped[datetime]
    # waiting (for its draft), drafted, skipped (skip_reason says why)
    status: Mapped[str] = mapped_column(String(16))
    skip_reason: Mapped[str | None] = mapped_column(String(64))
    draft_id: Mapped[int | None] = mapped_column(
        ForeignKey("drafts.id", ondelete="SET NULL"), index=True
    )
    public_reply_text: Mapped[str | None]
    # None (no public reply) | waiting | posting (the call is under way) | posted | failed |
    # skipped; public_reply_error says why for the last two.
    public_reply_status: Mapped[str | None] = mapped_column(String(16))
    public_reply_id: Mapped[str | None] = mapped_column(String(128))
    public_reply_error: Mapped[str | None]
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
