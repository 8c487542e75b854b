"""The SQL of comment triggers and of the rows that record what was done per comment."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import insert_ignore
from app.models import CommentReply, CommentTrigger


async def active_triggers(session: AsyncSession, account_id: int) -> list[CommentTrigger]:
    rows = await session.scalars(
        select(CommentTrigger)
        .where(CommentTrigger.account_id == account_id, CommentTrigger.active.is_(True))
        .order_by(CommentTrigger.id)
    )
    return list(rows.all())


async def last_public_reply(session: AsyncSession, trigger_id: int) -> str | None:
    """The public reply chosen for the trigger's latest comment (None: none yet)."""
    text: str | None = await session.scalar(
        select(CommentReply.public_reply_text)
        .where(CommentReply.trigger_id == trigger_id, CommentReply.public_reply_text.is_not(None))
        .order_by(CommentReply.id.desc())
        .limit(1)
    )
    return text


async def insert_reply(session: AsyncSession, values: dict[str, Any]) -> int | None:
    """One row per account and comment; None when the comment has its row already."""
    statement = (
        insert_ignore(session, CommentReply.__table__, ["account_id", "comment_id"])
        .values(**values)
        .returning(CommentReply.__table__.c.id)
    )
    inserted: int | None = (await session.execute(statement)).scalar_one_or_none()
    return inserted


async def reply_for_draft(session: AsyncSession, draft_id: int) -> CommentReply | None:
    return await session.scalar(select(CommentReply).where(CommentReply.draft_id == draft_id))
