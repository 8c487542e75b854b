"""The group-committing inbox writer: every body durable once, whatever arrives together."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.core.db import unit_of_work
from app.inbox.writer import InboxWriter
from app.models import InboxEvent


async def test_concurrent_bodies_are_each_stored_once(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    writer = InboxWriter(engine, max_wait_seconds=0.01)
    await writer.start()
    try:
        bodies = [f'{{"n": {n}}}' for n in range(60)]
        await asyncio.gather(*(writer.store(b) for b in [*bodies, *bodies[:20]]))
    finally:
        await writer.stop()
    async with unit_of_work(sessionmaker) as session:
        count = await session.scalar(select(func.count()).select_from(InboxEvent))
        statuses = set((await session.scalars(select(InboxEvent.status))).all())
    assert count == 60
    assert statuses == {"queued"}


async def test_store_fails_loudly_when_not_running(engine: AsyncEngine) -> None:
    writer = InboxWriter(engine)
    with pytest.raises(RuntimeError, match="not running"):
        await writer.store("{}")
