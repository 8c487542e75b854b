from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, LargeBinary, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import utc_now
from app.models.base import Base, Timestamped


class Cooperation(Timestamped, Base):
    """A past or running brand cooperation of the influencer."""

    __tablename__ = "cooperations"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    brand: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300), default="")
    starts_on: Mapped[date | None]
    ends_on: Mapped[date | None]
    notes: Mapped[str] = mapped_column(default="")
    # Links to the posts, reels and stories of the cooperation ({"url", "kind", "posted_on"}).
    platform_posts: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    # UTM parameters added to its products' links when a tracked link redirects
    # ({"utm_source": "instagram", "utm_campaign": "..."}).
    utm: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")


class Product(Timestamped, Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    cooperation_id: Mapped[int] = mapped_column(
        ForeignKey("cooperations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(300))
    aliases: Mapped[list[Any]] = mapped_column(default=list)
    description: Mapped[str] = mapped_column(default="")
    price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    currency: Mapped[str | None] = mapped_column(String(3))
    url: Mapped[str | None]
    discount_code: Mapped[str | None] = mapped_column(String(100))
    discount_details: Mapped[str | None]
    code_valid_until: Mapped[date | None]
    is_active: Mapped[bool] = mapped_column(default=True)


class ProductEmbedding(Base):
    """A product's text embedded by EMBEDDING_MODEL: float32 little-endian bytes, refreshed
    whenever the text it was computed from (its hash) or the model changes."""

    __tablename__ = "product_embeddings"

    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    model: Mapped[str] = mapped_column(String(200))
    text_hash: Mapped[str] = mapped_column(String(64))
    dimensions: Mapped[int]
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)
