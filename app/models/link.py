from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import utc_now
from app.models.base import Base


class TrackedLink(Base):
    """A short link (`/l/{token}`) standing for one product's URL in one conversation."""

    __tablename__ = "tracked_links"
    __table_args__ = (UniqueConstraint("conversation_id", "product_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    # The last click counted: another within a minute is the same person again.
    last_click_at: Mapped[datetime | None]


class LinkClick(Base):
    """Clicks on tracked links, counted per day, product and channel; no addresses kept."""

    __tablename__ = "link_clicks"
    __table_args__ = (
        UniqueConstraint("product_id", "channel", "day"),
        Index("ix_link_clicks_account_id_day", "account_id", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))  # instagram | messenger
    day: Mapped[date]
    clicks: Mapped[int] = mapped_column(default=0)
