from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Timestamped


class Contact(Timestamped, Base):
    """A follower as seen by one account (PSID on Messenger, IGSID on Instagram)."""

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("account_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    external_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(200))
    username: Mapped[str | None] = mapped_column(String(200))
    # Meta's picture URLs expire within days: a cache, refreshed with the profile.
    profile_pic_url: Mapped[str | None]
    profile_fetched_at: Mapped[datetime | None]
    profile_error: Mapped[str | None] = mapped_column(String(200))
    # The follower wrote STOP: no automatic message until they write START.
    opted_out_at: Mapped[datetime | None]
