from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, QueueItem, StatusColumn


class InboxStatus(StrEnum):
    """Where a stored webhook body is. The worker's queue (app.worker.queue) moves it with
    the same words as a job; `unprocessable` is the inbox's own: set aside for good."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    UNPROCESSABLE = "unprocessable"


# Not yet normalised: its raw body is still needed.
UNPROCESSED = (InboxStatus.QUEUED, InboxStatus.RUNNING)


class InboxEvent(QueueItem, Base):
    """A webhook body exactly as Meta sent it, stored before we answer 200."""

    __tablename__ = "inbox_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[InboxStatus] = mapped_column(StatusColumn(InboxStatus), index=True)
    received_at: Mapped[datetime]
    body: Mapped[str]
    body_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    processed_at: Mapped[datetime | None]
