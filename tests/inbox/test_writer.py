"""The group-committing inbox writer: every body durable once, whatever arrives together."""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid

import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.core.clock import utc_now
from app.core.db import create_engine, unit_of_work
from app.inbox.writer import InboxWriter
from app.models import InboxEvent
from app.worker import queue
from tests.conftest import _pg_admin


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


async def test_the_writer_recovers_when_its_connections_are_cut(postgres_url: str) -> None:
    """PostgreSQL stores a batch through the driver's own connection: after a restart
    (here, every backend of the test database terminated) the dead pooled connection is
    dropped, not handed to every later batch."""
    run = uuid.uuid4().hex
    before, during, after = (f'{{"run": "{run}", "n": "{n}"}}' for n in ("b", "d", "a"))
    engine = create_engine(postgres_url)
    writer = InboxWriter(engine, flushers=1)
    await writer.start()
    try:
        await writer.store(before)
        await _pg_admin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{make_url(postgres_url).database}' AND pid <> pg_backend_pid()"
        )
        with contextlib.suppress(Exception):  # the batch on the cut connection may fail
            await writer.store(during)
        await writer.store(after)
        async with engine.connect() as connection:
            stored = set(
                (
                    await connection.scalars(
                        select(InboxEvent.body).where(InboxEvent.body.contains(run))
                    )
                ).all()
            )
        async with engine.begin() as connection:  # this database is shared: leave it clean
            await connection.execute(delete(InboxEvent).where(InboxEvent.body.contains(run)))
    finally:
        await writer.stop()
        await engine.dispose()
    assert {before, after} <= stored


async def test_stored_bodies_read_like_any_row(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """The writer's own statement stores times exactly as SQLAlchemy does (on SQLite,
    text that compares with the worker's `run_at <= now`), and the rows are claimable."""
    before = utc_now()
    writer = InboxWriter(engine)
    await writer.start()
    try:
        await writer.store('{"n": "stored"}')
    finally:
        await writer.stop()
    after = utc_now()
    async with unit_of_work(sessionmaker) as session:
        [claimed] = await queue.claim(session, InboxEvent, worker_id="w", limit=5, lease_seconds=60)
        raw = await session.scalar(text("SELECT received_at FROM inbox_events"))
    assert claimed.body == '{"n": "stored"}'
    assert before <= claimed.received_at <= after
    assert claimed.run_at == claimed.received_at
    if engine.dialect.name == "sqlite":
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", raw), raw


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
