"""The SQL of tracked links and their daily click counts."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningInsert

from app.core.db import (
    bound_row,
    dialect_insert,
    dialect_insert_for,
    dialect_name,
    upsert,
    with_rows,
)
from app.models import Account, Cooperation, LinkClick, Product, TrackedLink


async def tokens_for(
    session: AsyncSession,
    *,
    account_id: int,
    conversation_id: int,
    product_ids: Sequence[int],
    new_token: Callable[[], str],
) -> dict[int, str]:
    """{product id: token} of the conversation's links to these products, created where
    missing. Two replies composed at once for the same conversation both get the one row
    that won: the insert skips a row another transaction already holds, and only the
    rows it did not insert are read back."""
    if not product_ids:
        return {}
    new = [
        {
            "account_id": account_id,
            "conversation_id": conversation_id,
            "product_id": product_id,
            "token": new_token(),
        }
        for product_id in product_ids
    ]
    if len(new) == 1:  # the usual case: built once, the row's values bound at execution
        inserted = await session.execute(_new_link(dialect_name(session)), new[0])
    else:
        statement = with_rows(dialect_insert(session, _LINKS), new)
        inserted = await session.execute(_skip_taken(statement))
    tokens = {row.product_id: row.token for row in inserted}
    missing = [product_id for product_id in product_ids if product_id not in tokens]
    if missing:
        rows = await session.execute(
            select(TrackedLink.product_id, TrackedLink.token).where(
                TrackedLink.conversation_id == conversation_id,
                TrackedLink.product_id.in_(missing),
            )
        )
        tokens |= {row.product_id: row.token for row in rows}
    return tokens


_LINKS = cast(Table, TrackedLink.__table__)


def _skip_taken(statement: postgresql.Insert | sqlite.Insert) -> ReturningInsert[Any]:
    return statement.on_conflict_do_nothing(
        index_elements=["conversation_id", "product_id"]
    ).returning(_LINKS.c.product_id, _LINKS.c.token)


@functools.cache
def _new_link(dialect: str) -> ReturningInsert[Any]:
    """One new tracked link, on the table (a statement naming the ORM entity is copied
    and its cache key computed again on every execution, issue 15)."""
    columns = ("account_id", "conversation_id", "product_id", "token")
    return _skip_taken(dialect_insert_for(dialect, _LINKS).values(bound_row(_LINKS, columns)))


@dataclass(frozen=True, slots=True)
class Target:
    link_id: int
    account_id: int
    product_id: int
    url: str | None
    utm: dict[str, Any]
    channel: str


async def find_target(session: AsyncSession, token: str) -> Target | None:
    """The link behind `token` and where it leads now: one lookup on the unique token."""
    row = (
        await session.execute(
            select(
                TrackedLink.id,
                TrackedLink.account_id,
                TrackedLink.product_id,
                Product.url,
                Cooperation.utm,
                Account.platform,
            )
            .join(Product, Product.id == TrackedLink.product_id)
            .join(Cooperation, Cooperation.id == Product.cooperation_id)
            .join(Account, Account.id == TrackedLink.account_id)
            .where(TrackedLink.token == token)
        )
    ).first()
    if row is None:
        return None
    utm = row.utm if isinstance(row.utm, dict) else {}
    return Target(row.id, row.account_id, row.product_id, row.url, utm, row.platform)


async def claim_click(
    session: AsyncSession, *, link_id: int, now: datetime, repeat_within: timedelta
) -> bool:
    """Marks the link clicked at `now` unless a click was counted less than `repeat_within`
    ago. One conditional UPDATE: of two clicks at once, only one changes the row."""
    result = await session.execute(
        update(TrackedLink)
        .where(
            TrackedLink.id == link_id,
            or_(
                TrackedLink.last_click_at.is_(None),
                TrackedLink.last_click_at <= now - repeat_within,
            ),
        )
        .values(last_click_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


async def add_click(
    session: AsyncSession, *, account_id: int, product_id: int, channel: str, day: date
) -> None:
    clicks = LinkClick.__table__.c.clicks
    await session.execute(
        upsert(
            session,
            LinkClick,
            ("product_id", "channel", "day"),
            values={
                "account_id": account_id,
                "product_id": product_id,
                "channel": channel,
                "day": day,
                "clicks": 1,
            },
            set_={"clicks": clicks + 1},
        )
    )
