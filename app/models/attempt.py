from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class AttemptCounter(Base):
    """Password attempts counted per key (a client address, an email, or both), one row
    per key, upserted in place: a flood with random emails adds no audit rows, and every
    process sees the same counts. The key is a SHA-256, so emails typed by strangers are
    not kept in clear. Rows unused for a day are purged by the retention job."""

    __tablename__ = "attempt_counters"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # see AttemptKind
    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    attempts: Mapped[int]
    window_start_at: Mapped[datetime]
    last_at: Mapped[datetime] = mapped_column(index=True)
    # When the next attempt may be made; null while attempts are free.
    retry_at: Mapped[datetime | None]
