"""A cooperation's report for the brand: what the bot and the influencer's team handed out
for it, and what followers did with it, over a range of UTC days.

A reply counts for a cooperation when it carried the code or the link of one of its
products, or was drafted about one of them (the draft's `product_ids`). Each product's
line counts the replies about it; the totals count each reply once, and each code or link
it carried.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.catalog.service import get_cooperation
from app.core.clock import utc_now
from app.errors import AppError
from app.models import Cooperation, User
from app.reports import repository
from app.reports.attribution import Pointer, attribute
from app.reports.repository import SentCounts
from app.reports.schemas import (
    CooperationInfo,
    DayFigures,
    Figures,
    ProductFigures,
    ReplyFigures,
    Report,
)

MAX_DAYS = 400
DEFAULT_DAYS = 30  # a cooperation without a start date: the last 30 days


class BadRange(AppError):
    status_code = 422


def default_range(cooperation: Cooperation, today: date) -> tuple[date, date]:
    """The cooperation's dates clipped to today (and to MAX_DAYS)."""
    last = min(cooperation.ends_on or today, today)
    first = cooperation.starts_on or last - timedelta(days=DEFAULT_DAYS - 1)
    first = max(min(first, last), last - timedelta(days=MAX_DAYS - 1))
    return first, last


def check_range(first: date, last: date) -> None:
    if last >= date.max:
        raise BadRange("`to` is too far in the future")
    if first > last:
        raise BadRange("`from` must not be after `to`")
    if (last - first).days + 1 > MAX_DAYS:
        raise BadRange(f"the range is at most {MAX_DAYS} days")


def _add(figures: ReplyFigures, counts: SentCounts) -> None:
    figures.replies_sent += counts.replies
    figures.auto_sent += counts.auto_sent
    figures.approved += counts.approved
    figures.by_hand += counts.by_hand
    figures.codes_sent += counts.codes
    figures.links_sent += counts.links
    figures.comment_replies += counts.comments


async def _count_pointers(
    session: AsyncSession,
    cooperation: Cooperation,
    start: datetime,
    end: datetime,
    days: dict[date, DayFigures],
) -> None:
    cooperations = await repository.cooperations_of(session, cooperation.account_id)
    for at, payload in await repository.pointing_messages(
        session, cooperation.account_id, start, end
    ):
        day = at.astimezone(UTC).date()
        found = attribute(payload.get("attachments") or (), day=day, cooperations=cooperations)
        if found is None or found.cooperation.id != cooperation.id:
            continue
        if found.pointer is Pointer.STORY_MENTION:
            days[day].story_mentions += 1
        else:
            days[day].shares += 1


def _totals(days: Iterable[DayFigures]) -> Figures:
    totals = Figures()
    for day in days:
        for name in Figures.model_fields:
            setattr(totals, name, getattr(totals, name) + getattr(day, name))
    return totals


async def report(
    session: AsyncSession,
    *,
    user: User,
    cooperation_id: int,
    first: date | None = None,
    last: date | None = None,
) -> Report:
    """The report over [first, last] (UTC days, both included); a bound not given comes
    from the cooperation's dates clipped to today. 404 for a cooperation the user may not
    see, 422 for a range backwards or longer than MAX_DAYS."""
    cooperation = await get_cooperation(session, user=user, cooperation_id=cooperation_id)
    now = utc_now()
    default_first, default_last = default_range(cooperation, now.date())
    first, last = first or default_first, last or default_last
    check_range(first, last)
    start = datetime.combine(first, time(), tzinfo=UTC)
    end = datetime.combine(last + timedelta(days=1), time(), tzinfo=UTC)
    count = (last - first).days + 1
    days = {d: DayFigures(date=d) for d in (first + timedelta(days=n) for n in range(count))}
    products = {
        pid: ProductFigures(product_id=pid, name=name)
        for pid, name in await repository.products_of(session, cooperation.id)
    }
    for counts in await repository.sent_counts(
        session, cooperation.account_id, list(products), start, end
    ):
        if counts.product_id is None:
            _add(days[counts.day], counts)
        elif counts.product_id in products:
            _add(products[counts.product_id], counts)
    for pid, day, clicks in await repository.clicks(session, list(products), first, last):
        days[day].clicks += clicks
        products[pid].clicks += clicks
    await _count_pointers(session, cooperation, start, end, days)
    return Report(
        cooperation=CooperationInfo(
            id=cooperation.id,
            account_id=cooperation.account_id,
            account_name=await repository.account_name(session, cooperation.account_id),
            brand=cooperation.brand,
            title=cooperation.title,
            starts_on=cooperation.starts_on,
            ends_on=cooperation.ends_on,
        ),
        first=first,
        last=last,
        generated_at=now,
        totals=_totals(days.values()),
        days=list(days.values()),
        products=list(products.values()),
    )
