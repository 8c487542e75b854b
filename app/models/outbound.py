from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, false, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, StatusColumn, Timestamped


class SendStatus(StrEnum):
    """Where an outbound message is; a draft being sent mirrors it (`DraftStatus`)."""

    QUEUED = "queued"  # waiting for its send job (or its hold to end)
    SENDING = "sending"  # handed to Meta, outcome not yet recorded
    SENT = "sent"
    FAILED = "failed"
    EXPIRED = "expired"  # the messaging window closed
    CANCELLED = "cancelled"  # stopped by a person before it went


# Still on its way: counted by pacing, not erased under it.
IN_FLIGHT = (SendStatus.QUEUED, SendStatus.SENDING)


class OutboundMessage(Timestamped, Base):
    """A reply on its way to Meta (or to the sandbox outbox), sent at most once."""

    __tablename__ = "outbound_messages"
    __table_args__ = (
        # Meta's hourly cap on private replies counts an account's recent ones
        # (app/outbox/private_reply.py).
        Index(
            "ix_outbound_messages_private_replies",
            "account_id",
            "sent_at",
            sqlite_where=text("comment_id IS NOT NULL"),
            postgresql_where=text("comment_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    draft_id: Mapped[int | None] = mapped_column(
        ForeignKey("drafts.id", ondelete="CASCADE"), unique=True
    )
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    channel: Mapped[str] = mapped_column(String(16))  # graph | sandbox
    status: Mapped[SendStatus] = mapped_column(StatusColumn(SendStatus, 16), index=True)
    parts: Mapped[list[Any]] = mapped_column(default=list)
    parts_sent: Mapped[int] = mapped_column(default=0)
    external_ids: Mapped[list[Any]] = mapped_column(default=list)
    messaging_type: Mapped[str] = mapped_column(String(16), default="RESPONSE")
    attempts: Mapped[int] = mapped_column(default=0)
    error_code: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None]
    sent_at: Mapped[datetime | None]
    # Not handed to the send job before this time: the moderator's Undo (UNDO_SECONDS) or
    # the account's `hold_auto_seconds`. Until then Undo or Cancel may still stop it.
    hold_until: Mapped[datetime | None]
    sent_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # A private reply to this comment (`recipient: {"comment_id": ...}`) instead of a DM.
    comment_id: Mapped[str | None] = mapped_column(String(128))
    # The products whose discount code / link the parts carry (ids), for the reports.
    codes_sent: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    links_sent: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    # It ends with the line saying it was sent automatically (app/outbox/disclosure.py).
    disclosed: Mapped[bool] = mapped_column(default=False, server_default=false())
