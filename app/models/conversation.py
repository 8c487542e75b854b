from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Timestamped


class Conversation(Timestamped, Base):
    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("account_id", "contact_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    is_paused: Mapped[bool] = mapped_column(default=False)
    paused_until: Mapped[datetime | None]
    last_inbound_at: Mapped[datetime | None]
    last_outbound_at: Mapped[datetime | None]
    # Another app (or a person in Meta's inbox) holds the thread: draft, never send.
    thread_owner_app_id: Mapped[str | None] = mapped_column(String(64))
    handed_over_at: Mapped[datetime | None]
    # A person answered everything that had reached us up to this message id: a reply by
    # hand in the desk, or one made in Meta's apps or by another app (its echo). No foreign
    # key: messages -> conversations already, and erasure deletes both together.
    answered_by_hand_through_id: Mapped[int | None]
