from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Numeric, String, UniqueConstraint, false, true
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Timestamped


class Account(Timestamped, Base):
    """A connected Instagram professional account or Facebook Page of an influencer."""

    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))  # instagram | messenger
    external_id: Mapped[str] = mapped_column(String(64))  # entry.id in webhooks
    page_id: Mapped[str | None] = mapped_column(String(64))
    graph_host: Mapped[str] = mapped_column(String(16))  # facebook | instagram
    name: Mapped[str] = mapped_column(String(200))
    access_token_encrypted: Mapped[str | None]
    status: Mapped[str] = mapped_column(String(24), default="active")
    is_paused: Mapped[bool] = mapped_column(default=False)
    persona: Mapped[str] = mapped_column(default="")
    languages: Mapped[list[Any]] = mapped_column(default=list)
    policy: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status_reason: Mapped[str | None]
    # Meta throttled this account: its sends wait until then; other accounts are unaffected.
    sends_paused_until: Mapped[datetime | None]
    # Per-account pacing: the earliest time its next message may go to Meta.
    next_send_at: Mapped[datetime | None]
    # The most this account's drafts may spend on the LLM per UTC day; None = the
    # LLM_DAILY_BUDGET_USD setting. Over it, drafts are written offline and reviewed.
    daily_llm_budget_usd: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    # How it was connected: manual (API), facebook_login, instagram_login.
    connected_via: Mapped[str] = mapped_column(
        String(24), default="manual", server_default="manual"
    )
    # The app-scoped id of the Meta user who connected it (deauthorize / data deletion).
    meta_user_id: Mapped[str | None] = mapped_column(String(64), index=True)
    username: Mapped[str | None] = mapped_column(String(200))
    picture_url: Mapped[str | None]
    token_expires_at: Mapped[datetime | None]
    token_refreshed_at: Mapped[datetime | None]
    token_checked_at: Mapped[datetime | None]
    # Approved for the HUMAN_AGENT tag: moderators may answer up to 7 days after a message.
    has_human_agent: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Messages older than this many days are purged; None keeps them.
    retention_days: Mapped[int | None]
    # Telling followers a reply was sent automatically: first | every | off.
    disclosure: Mapped[str] = mapped_column(String(8), default="first", server_default="first")
    disclosure_text: Mapped[str | None]
    # Product links in sent replies become tracked links under PUBLIC_URL (/l/{token}).
    track_links: Mapped[bool] = mapped_column(default=True, server_default=true())
    # Why comment triggers cannot work (a comment permission is not granted); DMs go on.
    # Set by the token check and at login; reconnecting with every permission clears it.
    comments_problem: Mapped[str | None]


class AccountMember(Base):
    __tablename__ = "account_members"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    # owner: the influencer whose account it is; moderator: works its queue.
    role: Mapped[str] = mapped_column(String(16), default="moderator", server_default="moderator")
