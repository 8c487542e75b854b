"""A database outage while an item's outcome is being recorded: the worker tries again
and hands the item back seconds after the database returns, not a whole lease later.
PostgreSQL only: the test's own database refuses connections for a while (the server,
shared with other tests, stays up)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import make_url

from app.core.db import unit_of_work
from app.models import Job
from app.runtime import Runtime
from app.worker import queue
from app.worker.runner import RetryLater, Worker
from tests.conftest import _pg_admin
from tests.harness import make_settings, running_app, truncate_all

OUTAGE_SECONDS = 1.5


async def _no_events(_runtime: Runtime, _item: object) -> None:
    raise AssertionError("no inbox events in this test")


async def test_an_outcome_is_recorded_once_the_database_is_back(
    postgres_url: str, tmp_path: Path
) -> None:
    name = make_url(postgres_url).database

    async def outage() -> None:
        await _pg_admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await _pg_admin(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        )
        await asyncio.sleep(OUTAGE_SECONDS)
        await _pg_admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')

    restored: list[asyncio.Task[None]] = []

    async def meets_an_outage(_runtime: Runtime, _job: Job) -> None:
        # The handler's call failed, and the database goes away before that is recorded.
        await outage_started()
        raise RetryLater("Meta said later", retry_after=3600)

    async def outage_started() -> None:
        task = asyncio.create_task(outage())
        restored.append(task)
        await asyncio.sleep(0.5)  # connections are refused from here on

    settings = make_settings(postgres_url, str(tmp_path))
    try:
        async with running_app(settings) as harness:
            worker = Worker(
                harness.runtime,
                job_handlers={"outage": meets_an_outage},
                event_handler=_no_events,
            )
            async with unit_of_work(harness.runtime.sessionmaker) as session:
                await queue.enqueue(session, "outage", {})
            started = asyncio.get_running_loop().time()
            await worker.run_once()
            took = asyncio.get_running_loop().time() - started
            await asyncio.gather(*restored)
            async with unit_of_work(harness.runtime.sessionmaker) as session:
                [job] = (await session.scalars(select(Job))).all()
    finally:
        await _pg_admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await truncate_all(postgres_url)
    # Recorded as a retry, not left leased until its lease runs out.
    assert (job.status, job.locked_by, job.attempts) == ("queued", None, 1)
    assert "Meta said later" in (job.last_error or "")
    assert OUTAGE_SECONDS < took < OUTAGE_SECONDS + 10
