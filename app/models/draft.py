from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Numeric, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, StatusColumn, Timestamped


class DraftStatus(StrEnum):
    """Where a draft is. A draft on its way follows its outbound message (`SendStatus`)."""

    PENDING = "pending"  # waiting for a person
    APPROVED = "approved"  # decided, its send queued
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    REJECTED = "rejected"
    EXPIRED = "expired"  # the messaging window closed before it went
    SUPERSEDED = "superseded"  # a newer draft or a reply by hand answers the same messages


DRAFT_STATUSES = tuple(DraftStatus)
# Decided and let go: what an account's bot (or a person) sent or is sending.
SENT_ALONE = (DraftStatus.APPROVED, DraftStatus.SENDING, DraftStatus.SENT)


class Draft(Timestamped, Base):
    """A reply drafted for a conversation, and what was decided about it."""

    __tablename__ = "drafts"
    __table_args__ = (
        # Today's LLM spending of one account is summed over its recent drafts.
        Index("ix_drafts_account_id_created_at", "account_id", "created_at"),
        # What an account's bot sent alone, newest first (the sent list) by decision, then id.
        Index("ix_drafts_account_id_decision_id", "account_id", "decision", "id"),
        # Voice examples: an account's most recent replies a person approved, per language
        # (app/drafting/examples.py); few drafts are, so the scan stays short.
        Index(
            "ix_drafts_person_decided",
            "account_id",
            "language",
            "created_at",
            sqlite_where=text("decided_by_user_id IS NOT NULL"),
            postgresql_where=text("decided_by_user_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    reply_to_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL")
    )
    status: Mapped[DraftStatus] = mapped_column(StatusColumn(DraftStatus, 16), index=True)
    # dm: a reply in the conversation; comment: a private reply to a comment (its
    # outbound message names the comment). INTERFACE.md, "Drafts".
    kind: Mapped[str] = mapped_column(String(8), default="dm", server_default="dm")
    decision: Mapped[str] = mapped_column(String(8))  # auto | review
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    text: Mapped[str]
    final_text: Mapped[str | None]
    intent: Mapped[str] = mapped_column(String(48), default="other")
    language: Mapped[str] = mapped_column(String(8), default="en")
    confidence: Mapped[float] = mapped_column(default=0.0)
    product_ids: Mapped[list[Any]] = mapped_column(default=list)
    drafter: Mapped[str] = mapped_column(String(16))  # llm | offline
    model: Mapped[str | None] = mapped_column(String(100))
    decided_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    decided_at: Mapped[datetime | None]
    reject_reason: Mapped[str | None]
    error: Mapped[str | None]
    # What the LLM call behind this draft used, as the server reported it, and its
    # estimated cost from LLM_*_USD_PER_MTOK; None for offline drafts.
    prompt_tokens: Mapped[int | None]
    completion_tokens: Mapped[int | None]
    llm_cost_usd: Mapped[Decimal | None] = mapped_column(Numeric(12, 6))
