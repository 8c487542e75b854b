from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Timestamped


class OAuthState(Timestamped, Base):
    """One OAuth attempt: bound to the user who started it, usable once, short-lived.
    Between the callback and the influencer's choice of accounts it holds the fetched
    accounts and their tokens, encrypted."""

    __tablename__ = "oauth_states"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(24))  # facebook_login | instagram_login
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    payload_encrypted: Mapped[str | None]
