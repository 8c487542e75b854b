"""The report's SQL: a few range queries on one account, narrow rows, nothing per day."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Text, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Account, Cooperation, Draft, LinkClick, Message, OutboundMessage, Product
from app.reports.attribution import SHARE_TYPES, CooperationPosts


@dataclass(frozen=True, slots=True)
class SentRow:
    """One reply that reached the follower (or the sandbox outbox)."""

    sent_at: datetime
    comment_id: str | None
    codes_sent: list[Any]
    links_sent: list[Any]
    draft_id: int | None
    sent_by_user_id: int | None
    decided_by_user_id: int | None
    draft_product_ids: list[Any]


async def account_name(session: AsyncSession, account_id: int) -> str:
    return str(await session.scalar(select(Account.name).where(Account.id == account_id)))


async def products_of(session: AsyncSession, cooperation_id: int) -> list[tuple[int, str]]:
    rows = await session.execute(
        select(Product.id, Product.name)
        .where(Product.cooperation_id == cooperation_id)
        .order_by(Product.name, Product.id)
    )
    return [(int(pid), str(name)) for pid, name in rows]


async def cooperations_of(session: AsyncSession, account_id: int) -> list[CooperationPosts]:
    rows = await session.execute(
        select(Cooperation.id, Cooperation.brand, Cooperation.title, Cooperation.platform_posts)
        .where(Cooperation.account_id == account_id)
        .order_by(Cooperation.id)
    )
    return [CooperationPosts(i, b, t, p or []) for i, b, t, p in rows]


async def cooperations_by_account(
    session: AsyncSession, account_ids: set[int]
) -> dict[int, list[CooperationPosts]]:
    rows = await session.execute(
        select(
            Cooperation.account_id,
            Cooperation.id,
            Cooperation.brand,
            Cooperation.title,
            Cooperation.platform_posts,
        )
        .where(Cooperation.account_id.in_(account_ids))
        .order_by(Cooperation.id)
    )
    found: dict[int, list[CooperationPosts]] = {}
    for account_id, *cooperation in rows:
        found.setdefault(account_id, []).append(CooperationPosts(*cooperation))
    return found


async def sent_replies(
    session: AsyncSession, account_id: int, start: datetime, end: datetime
) -> list[SentRow]:
    """The account's replies sent in [start, end), with their draft's decision."""
    rows = await session.execute(
        select(
            OutboundMessage.sent_at,
            OutboundMessage.comment_id,
            OutboundMessage.codes_sent,
            OutboundMessage.links_sent,
            OutboundMessage.draft_id,
            OutboundMessage.sent_by_user_id,
            Draft.decided_by_user_id,
            Draft.product_ids,
        )
        .outerjoin(Draft, Draft.id == OutboundMessage.draft_id)
        .where(
            OutboundMessage.account_id == account_id,
            OutboundMessage.status == "sent",
            OutboundMessage.sent_at >= start,
            OutboundMessage.sent_at < end,
        )
    )
    return [
        SentRow(at, comment, codes or [], links or [], draft, sender, decided, products or [])
        for at, comment, codes, links, draft, sender, decided, products in rows
    ]


async def clicks(
    session: AsyncSession, product_ids: Sequence[int], first: date, last: date
) -> list[tuple[int, date, int]]:
    if not product_ids:
        return []
    rows = await session.execute(
        select(LinkClick.product_id, LinkClick.day, func.sum(LinkClick.clicks))
        .where(
            LinkClick.product_id.in_(product_ids),
            LinkClick.day >= first,
            LinkClick.day <= last,
        )
        .group_by(LinkClick.product_id, LinkClick.day)
    )
    return [(int(pid), day, int(n or 0)) for pid, day, n in rows]


async def pointing_messages(
    session: AsyncSession, account_id: int, start: datetime, end: datetime
) -> list[tuple[datetime, dict[str, Any]]]:
    """Followers' messages received in [start, end) that may carry a story mention or a
    shared post. The text match only narrows the rows (portable, unlike JSON paths);
    app.reports.attribution reads the attachments themselves."""
    payload = cast(Message.payload, Text)
    markers = ["story_mention", *SHARE_TYPES]
    rows = await session.execute(
        select(Message.created_at, Message.payload).where(
            Message.account_id == account_id,
            Message.direction == "in",
            Message.author == "follower",
            Message.created_at >= start,
            Message.created_at < end,
            or_(*(payload.like(f'%"{marker}"%') for marker in markers)),
        )
    )
    return [(at, body or {}) for at, body in rows]
