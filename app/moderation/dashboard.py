"""An account's day at a glance: DMs received, the share the bot sent alone, what waits,
how long, what people marked wrong; and the last 30 days, day by day.

Every figure is one aggregate query on an indexed range (an account's messages, drafts
or marks since a time), so the page costs the same with 100 or 100,000 drafts.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

from pydantic import BaseModel
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.conversations.answered import ANSWERABLE_KINDS
from app.core.clock import utc_now
from app.core.db import utc_day
from app.models import SENT_ALONE, Draft, DraftStatus, Message, ReplyMark
from app.moderation.marks import sent_alone

DAYS = 30


class DayFigures(BaseModel):
    day: date
    dms: int = 0
    auto_sent: int = 0
    approved: int = 0  # by a person


class Dashboard(BaseModel):
    today: date
    dms_today: int
    sent_today: int
    auto_sent_today: int
    auto_share_today: float | None  # of today's replies that went out; None without any
    waiting_now: int
    oldest_waiting_since: datetime | None
    marked_wrong: int  # over the last DAYS days
    marked_right: int
    days: list[DayFigures]


def _as_date(value: object) -> date:
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


async def _dms_per_day(
    session: AsyncSession, account_id: int, since: datetime
) -> Iterable[tuple[object, int]]:
    day = utc_day(session, Message.created_at)
    rows = await session.execute(
        select(day, func.count(Message.id))
        .where(
            Message.account_id == account_id,
            Message.created_at >= since,
            Message.direction == "in",
            Message.author == "follower",
            Message.kind.in_(ANSWERABLE_KINDS),  # a DM, not a reaction, a read or a comment
        )
        .group_by(day)
    )
    return [(d, int(n)) for d, n in rows]


async def _replies_per_day(
    session: AsyncSession, account_id: int, since: datetime
) -> Iterable[tuple[object, int, int]]:
    day = utc_day(session, Draft.created_at)
    by_person = Draft.decided_by_user_id.is_not(None) & Draft.status.in_(SENT_ALONE)
    rows = await session.execute(
        select(
            day,
            func.sum(case((sent_alone(), 1), else_=0)),
            func.sum(case((by_person, 1), else_=0)),
        )
        .where(Draft.account_id == account_id, Draft.created_at >= since)
        .group_by(day)
    )
    return [(d, int(a or 0), int(p or 0)) for d, a, p in rows]


async def _waiting(session: AsyncSession, account_id: int) -> tuple[int, datetime | None]:
    count, oldest = (
        await session.execute(
            select(func.count(Draft.id), func.min(Draft.created_at)).where(
                Draft.account_id == account_id, Draft.status == DraftStatus.PENDING
            )
        )
    ).one()
    return int(count), oldest


async def _marks(session: AsyncSession, account_id: int, since: datetime) -> dict[str, int]:
    rows = await session.execute(
        select(ReplyMark.mark, func.count(ReplyMark.id))
        .where(ReplyMark.account_id == account_id, ReplyMark.marked_at >= since)
        .group_by(ReplyMark.mark)
    )
    return {mark: int(n) for mark, n in rows}


async def dashboard(session: AsyncSession, *, account_id: int) -> Dashboard:
    """Days are UTC days; call after `ensure_access`."""
    now = utc_now()
    today = now.date()
    first = today - timedelta(days=DAYS - 1)
    since = datetime.combine(first, time(), tzinfo=now.tzinfo)
    days = {
        first + timedelta(days=n): DayFigures(day=first + timedelta(days=n)) for n in range(DAYS)
    }
    for day, dms in await _dms_per_day(session, account_id, since):
        if (d := _as_date(day)) in days:
            days[d].dms = dms
    for day, auto, approved in await _replies_per_day(session, account_id, since):
        if (d := _as_date(day)) in days:
            days[d].auto_sent, days[d].approved = auto, approved
    waiting, oldest = await _waiting(session, account_id)
    marks = await _marks(session, account_id, since)
    last = days[today]
    sent = last.auto_sent + last.approved
    return Dashboard(
        today=today,
        dms_today=last.dms,
        sent_today=sent,
        auto_sent_today=last.auto_sent,
        auto_share_today=round(last.auto_sent / sent, 3) if sent else None,
        waiting_now=waiting,
        oldest_waiting_since=oldest,
        marked_wrong=marks.get("wrong", 0),
        marked_right=marks.get("right", 0),
        days=list(days.values()),
    )


class Summary(BaseModel):
    """One account's line on the home page."""

    dms_today: int = 0
    sent_today: int = 0
    auto_sent_today: int = 0
    waiting_now: int = 0
    oldest_waiting_since: datetime | None = None
    marked_wrong: int = 0  # over the last DAYS days


async def summaries(session: AsyncSession, account_ids: list[int]) -> dict[int, Summary]:
    """Today's figures of many accounts: one grouped query per figure, whatever their number."""
    found = {account_id: Summary() for account_id in account_ids}
    if not account_ids:
        return found
    now = utc_now()
    today = datetime.combine(now.date(), time(), tzinfo=now.tzinfo)
    month = today - timedelta(days=DAYS - 1)
    dms = await session.execute(
        select(Message.account_id, func.count(Message.id))
        .where(
            Message.account_id.in_(account_ids),
            Message.created_at >= today,
            Message.direction == "in",
            Message.author == "follower",
            Message.kind.in_(ANSWERABLE_KINDS),  # a DM, not a reaction, a read or a comment
        )
        .group_by(Message.account_id)
    )
    for account_id, count in dms:
        found[account_id].dms_today = int(count)
    by_person = Draft.decided_by_user_id.is_not(None) & Draft.status.in_(SENT_ALONE)
    replies = await session.execute(
        select(
            Draft.account_id,
            func.sum(case((sent_alone(), 1), else_=0)),
            func.sum(case((by_person, 1), else_=0)),
        )
        .where(Draft.account_id.in_(account_ids), Draft.created_at >= today)
        .group_by(Draft.account_id)
    )
    for account_id, auto, approved in replies:
        found[account_id].auto_sent_today = int(auto or 0)
        found[account_id].sent_today = int(auto or 0) + int(approved or 0)
    waiting = await session.execute(
        select(Draft.account_id, func.count(Draft.id), func.min(Draft.created_at))
        .where(Draft.account_id.in_(account_ids), Draft.status == DraftStatus.PENDING)
        .group_by(Draft.account_id)
    )
    for account_id, count, oldest in waiting:
        found[account_id].waiting_now, found[account_id].oldest_waiting_since = int(count), oldest
    wrong = await session.execute(
        select(ReplyMark.account_id, func.count(ReplyMark.id))
        .where(
            ReplyMark.account_id.in_(account_ids),
            ReplyMark.marked_at >= month,
            ReplyMark.mark == "wrong",
        )
        .group_by(ReplyMark.account_id)
    )
    for account_id, count in wrong:
        found[account_id].marked_wrong = int(count)
    return found
