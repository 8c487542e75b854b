"""The report's SQL: a few range queries on one account, narrow rows, nothing per day."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Text, and_, case, cast, func, literal, null, or_, select, true, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import json_array_elements, utc_day
from app.models import (
    Account,
    Cooperation,
    Draft,
    LinkClick,
    Message,
    OutboundMessage,
    Product,
    SendStatus,
)
from app.reports.attribution import SHARE_TYPES, CooperationPosts


def as_date(value: object) -> date:
    """SQLite answers a day as 'YYYY-MM-DD', PostgreSQL as a date."""
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


@dataclass(frozen=True, slots=True)
class SentCounts:
    """Replies sent on one UTC day, about one product (or, product None, about any of the
    cooperation's products, each reply once)."""

    day: date
    product_id: int | None
    replies: int
    auto_sent: int
    approved: int
    by_hand: int
    codes: int
    links: int
    comments: int


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


def _exploded(
    session: AsyncSession, column: Any, flags: tuple[int, int], wanted: list[str], where: Any
) -> Any:
    items = json_array_elements(session, column)
    value = cast(items.c.value, Text)
    statement = select(
        OutboundMessage.id.label("oid"),
        value.label("pid"),
        literal(flags[0]).label("code"),
        literal(flags[1]).label("link"),
    ).select_from(OutboundMessage)
    if column is Draft.product_ids:
        statement = statement.join(Draft, Draft.id == OutboundMessage.draft_id)
    return statement.join(items, true()).where(*where, value.in_(wanted))


def _pairs(
    session: AsyncSession,
    account_id: int,
    product_ids: Sequence[int],
    start: datetime,
    end: datetime,
) -> Any:
    """(reply, product, carried its code, carried its link) for every reply sent in
    [start, end) that carried a code or link of `product_ids` or was drafted about one."""
    wanted = [str(p) for p in product_ids]
    where = (
        OutboundMessage.account_id == account_id,
        OutboundMessage.status == SendStatus.SENT,
        OutboundMessage.sent_at >= start,
        OutboundMessage.sent_at < end,
    )
    items = union_all(
        _exploded(session, OutboundMessage.codes_sent, (1, 0), wanted, where),
        _exploded(session, OutboundMessage.links_sent, (0, 1), wanted, where),
        _exploded(session, Draft.product_ids, (0, 0), wanted, where),
    ).subquery()
    return select(
        items.c.oid,
        items.c.pid,
        func.max(items.c.code).label("code"),
        func.max(items.c.link).label("link"),
    ).group_by(items.c.oid, items.c.pid)


def _by_kind() -> list[Any]:
    """Who sent it: the bot alone (a draft nobody decided, or a message of its own such as
    a confirmation), a person approving a draft, or a person writing it."""
    no_draft = OutboundMessage.draft_id.is_(None)
    by_person = OutboundMessage.sent_by_user_id.is_not(None)
    decided = Draft.decided_by_user_id.is_not(None)
    return [
        func.sum(case((or_(and_(no_draft, ~by_person), and_(~no_draft, ~decided)), 1), else_=0)),
        func.sum(case((and_(~no_draft, decided), 1), else_=0)),
        func.sum(case((and_(no_draft, by_person), 1), else_=0)),
    ]


async def sent_counts(
    session: AsyncSession,
    account_id: int,
    product_ids: Sequence[int],
    start: datetime,
    end: datetime,
) -> list[SentCounts]:
    """Per UTC day: per product, and for the cooperation as a whole (product None). One
    statement; the database reads the JSON lists (once, in a CTE), nothing row by row
    reaches Python."""
    if not product_ids:
        return []
    pairs = _pairs(session, account_id, product_ids, start, end).cte("pairs")
    replies = (
        select(
            pairs.c.oid,
            func.sum(pairs.c.code).label("code"),
            func.sum(pairs.c.link).label("link"),
        )
        .group_by(pairs.c.oid)
        .subquery()
    )
    day = utc_day(session, OutboundMessage.sent_at)

    def grouped(source: Any, product: Any) -> Any:
        return (
            select(
                day.label("day"),
                product.label("product"),
                func.count(),
                *_by_kind(),
                func.sum(source.c.code),
                func.sum(source.c.link),
                func.sum(case((OutboundMessage.comment_id.is_not(None), 1), else_=0)),
            )
            .select_from(source)
            .join(OutboundMessage, OutboundMessage.id == source.c.oid)
            .outerjoin(Draft, Draft.id == OutboundMessage.draft_id)
        )

    rows = await session.execute(
        union_all(
            grouped(pairs, pairs.c.pid).group_by(day, pairs.c.pid),
            grouped(replies, cast(null(), Text)).group_by(day),
        )
    )
    return [
        SentCounts(as_date(d), None if p is None else int(p), *(int(n or 0) for n in numbers))
        for d, p, *numbers in rows
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
