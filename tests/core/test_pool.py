"""The connection pool keeps what it opened: a worker with many items in flight reuses
its connections instead of opening (and on PostgreSQL preparing every statement on) a
new one for each burst of work."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event, text

from app.core.db import create_engine, create_reader, reading


async def test_connections_beyond_the_pool_size_are_kept_once_opened(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=3)
    opened: list[Any] = []
    event.listen(engine.sync_engine.pool, "connect", lambda *_args: opened.append(1))
    # Readers: six write transactions at once would wait for SQLite's one write lock.
    sessionmaker = create_reader(engine)
    all_in = asyncio.Barrier(6)

    async def busy() -> None:
        async with reading(sessionmaker) as session:
            await session.execute(text("SELECT 1"))
            await all_in.wait()  # six connections out at once: twice the pool size

    try:
        for _round in range(3):
            await asyncio.gather(*(busy() for _ in range(6)))
        assert len(opened) == 6
        assert engine.sync_engine.pool.checkedin() == 6  # type: ignore[attr-defined]
    finally:
        await engine.dispose()
