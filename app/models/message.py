from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Timestamped


class Message(Timestamped, Base):
    """One entry of a conversation: a follower's message, our reply, an echo, a reaction..."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("account_id", "mid"),
        Index("ix_messages_conversation_id_sent_at", "conversation_id", "sent_at"),
        # What is unanswered is a range of ids within a conversation (conversations.answered).
        Index("ix_messages_conversation_id_id", "conversation_id", "id"),
        # The dashboard counts an account's follower messages per day, as we received them.
        Index("ix_messages_account_id_created_at", "account_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    mid: Mapped[str | None] = mapped_column(String(255))
    direction: Mapped[str] = mapped_column(String(8))  # in | out
    author: Mapped[str] = mapped_column(String(16))  # follower | bot | influencer | other_app
    kind: Mapped[str] = mapped_column(String(24))  # text | attachment | reaction | postback | ...
    text: Mapped[str | None]
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    sent_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
    read_at: Mapped[datetime | None]
    edited_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]  # the follower unsent it: text and attachments erased
    inbox_event_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbox_events.id", ondelete="SET NULL"), index=True
    )
    # No foreign key: outbound -> draft -> message would make a cycle of constraints.
    outbound_id: Mapped[int | None] = mapped_column(index=True)
