from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import utc_now
from app.models.base import Base


class Mark(StrEnum):
    RIGHT = "right"
    WRONG = "wrong"


class ReplyMark(Base):
    """A person's verdict on a reply the bot sent alone: one per draft, changeable."""

    __tablename__ = "reply_marks"
    # The dashboard counts an account's recent marks; the sent list joins on draft_id.
    __table_args__ = (Index("ix_reply_marks_account_id_marked_at", "account_id", "marked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id", ondelete="CASCADE"), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    mark: Mapped[str] = mapped_column(String(8))  # Mark
    note: Mapped[str | None]
    marked_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    marked_at: Mapped[datetime] = mapped_column(default=utc_now)
