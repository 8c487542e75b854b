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


def test_scrub_body_removes_only_that_messages_content() -> None:
    import json

    from app.inbox.repository import scrub_body

    body = json.dumps(
        {
            "object": "instagram",
            "entry": [
                {
                    "id": "1",
                    "messaging": [
                        {
                            "sender": {"id": "2"},
                            "message": {"mid": "m1", "text": "secret", "attachments": [{}]},
                        },
                        {"sender": {"id": "3"}, "message": {"mid": "m2", "text": "keep me"}},
                        {
                            "sender": {"id": "2"},
                            "message_edit": {"mid": "m1", "text": "secret v2", "num_edit": 1},
                        },
                    ],
                }
            ],
        }
    )
    scrubbed = scrub_body(body, "m1")
    assert scrubbed is not None
    assert "secret" not in scrubbed
    assert "keep me" in scrubbed
    assert scrub_body(scrubbed, "m1") is None
    assert scrub_body("not json", "m1") is None
