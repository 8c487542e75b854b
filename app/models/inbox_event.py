from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, QueueItem


class InboxEvent(QueueItem, Base):
    """A webhook body exactly as Meta sent it, stored before we answer 200."""

    __tablename__ = "inbox_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[datetime]
    body: Mapped[str]
    body_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    processed_at: Mapped[datetime | None]
