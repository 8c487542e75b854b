"""Alerts: what each person wants to be told, where, and what they were already told."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Timestamped


class AlertSettings(Timestamped, Base):
    """One person's alert choices; no row means every alert off."""

    __tablename__ = "alert_settings"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # Drafts waiting longer than this many minutes; None: not alerted.
    waiting_minutes: Mapped[int | None]
    is_sensitive_on: Mapped[bool] = mapped_column(default=False, server_default=false())
    is_reconnect_on: Mapped[bool] = mapped_column(default=False, server_default=false())
    last_digest_at: Mapped[datetime | None]


class PushSubscription(Timestamped, Base):
    """One browser's web push subscription (the Push API's endpoint and keys)."""

    __tablename__ = "push_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    endpoint: Mapped[str] = mapped_column(String(2048), unique=True)
    p256dh: Mapped[str] = mapped_column(String(200))
    auth: Mapped[str] = mapped_column(String(100))


class NotifiedItem(Base):
    """An item a person was told about through a channel: never told twice there."""

    __tablename__ = "notified_items"
    __table_args__ = (UniqueConstraint("user_id", "channel", "item_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(8))  # email | push
    kind: Mapped[str] = mapped_column(String(16))  # waiting | sensitive | reconnect
    item_key: Mapped[str] = mapped_column(String(64))  # draft:<id> | account:<id>
    notified_at: Mapped[datetime]
