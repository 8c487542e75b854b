"""Sessions for reads without a transaction (`app.core.db.create_reader`), on both
databases: each statement runs on its own, and a read never waits for a writer."""

from __future__ import annotations

import asyncio

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.core.db import create_reader, reading, unit_of_work
from app.models import Account


async def test_a_reader_runs_each_statement_on_its_own(engine: AsyncEngine) -> None:
    """On PostgreSQL `now()` is the start of the transaction: within one it does not move,
    in a reader's statements it does. (SQLite has no such clock; its half is below.)"""
    if engine.dialect.name != "postgresql":
        return
    async with reading(create_reader(engine)) as session:
        first = await session.scalar(text("SELECT now()"))
        await asyncio.sleep(0.01)
        second = await session.scalar(text("SELECT now()"))
    assert first is not None
    assert second is not None
    assert second > first


async def test_a_reader_does_not_wait_for_a_writer(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A write transaction is open (on SQLite it holds the write lock from BEGIN
    IMMEDIATE): a reader's statement still answers at once, and sees only what was
    committed."""
    async with unit_of_work(sessionmaker) as writer:
        writer.add(
            Account(platform="instagram", external_id="1", graph_host="instagram", name="Lena")
        )
        await writer.flush()
        async with reading(create_reader(engine)) as session:
            seen = await asyncio.wait_for(session.scalars(select(Account.name)), timeout=5)
            assert list(seen) == []
    async with reading(create_reader(engine)) as session:
        assert list(await session.scalars(select(Account.name))) == ["Lena"]
