from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, SmallInteger, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, QueueItem, Timestamped


class Job(QueueItem, Timestamped, Base):
    """A unit of background work (draft a reply, send one), written in the same
    transaction as the data it refers to."""

    __tablename__ = "jobs"
    __table_args__ = (
        # At most one waiting job per key: a burst of messages debounces into one draft.
        Index(
            "uq_jobs_dedupe_key_queued",
            "dedupe_key",
            unique=True,
            sqlite_where=text("status = 'queued'"),
            postgresql_where=text("status = 'queued'"),
        ),
        Index("ix_jobs_status_priority_run_at", "status", "priority", "run_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(48))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    dedupe_key: Mapped[str | None] = mapped_column(String(200))
    max_attempts: Mapped[int] = mapped_column(default=8)
    # Lower runs first: a reply ready to go never waits behind new drafts.
    priority: Mapped[int] = mapped_column(SmallInteger, default=5, server_default="5")
    account_id: Mapped[int | None] = mapped_column(index=True)
    finished_at: Mapped[datetime | None]
