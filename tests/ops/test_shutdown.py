"""Stopping gracefully: a worker finishes or hands back what it holds, within a bound; the
web process stores every webhook body it accepted before it exits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.core import language
from app.core.db import create_engine, unit_of_work
from app.inbox.writer import InboxWriter
from app.models import InboxEvent, Job
from app.runtime import Runtime
from app.worker import queue
from app.worker.runner import Worker
from tests.harness import Harness, make_settings, running_app

GRACE = 0.5


@pytest.fixture
async def graceful(database_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    settings = make_settings(database_url, str(tmp_path), SHUTDOWN_GRACE_SECONDS=GRACE)
    async with running_app(settings) as harness:
        yield harness


async def _jobs(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, Job]:
    async with unit_of_work(sessionmaker) as session:
        return {job.kind: job for job in (await session.scalars(select(Job))).all()}


def _released(kind: str) -> float:
    labels = {"kind": kind, "outcome": "released"}
    return REGISTRY.get_sample_value("inboxpilot_worker_items_total", labels) or 0.0


async def _no_events(_runtime: Runtime, _item: object) -> None:
    raise AssertionError("no inbox events in this test")


class Handlers:
    """A job that finishes soon after the stop, and one that would never finish."""

    def __init__(self) -> None:
        self.stop = asyncio.Event()
        self.started: dict[str, asyncio.Event] = {k: asyncio.Event() for k in ("quick", "stuck")}
        self.finished: list[str] = []

    async def quick(self, _runtime: Runtime, _job: Job) -> None:
        self.started["quick"].set()
        await self.stop.wait()
        await asyncio.sleep(GRACE / 5)
        self.finished.append("quick")

    async def stuck(self, _runtime: Runtime, _job: Job) -> None:
        self.started["stuck"].set()
        await asyncio.Event().wait()

    def worker(self, runtime: Runtime) -> Worker:
        return Worker(
            runtime,
            job_handlers={"quick": self.quick, "stuck": self.stuck},
            event_handler=_no_events,
            concurrency=4,
        )

    async def all_started(self) -> None:
        await asyncio.wait_for(
            asyncio.gather(*(e.wait() for e in self.started.values())), timeout=10
        )


async def _enqueue_both(harness: Harness, **stuck: Any) -> None:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        await queue.enqueue(session, "quick", {})
        await queue.enqueue(session, "stuck", {}, **stuck)


async def test_a_stopping_worker_finishes_what_it_can_and_releases_the_rest(
    graceful: Harness,
) -> None:
    harness = graceful
    handlers = Handlers()
    await _enqueue_both(harness)
    released_before = _released("stuck")
    loop_task = asyncio.create_task(handlers.worker(harness.runtime).run_forever(handlers.stop))
    await handlers.all_started()

    started = time.monotonic()
    handlers.stop.set()
    await asyncio.wait_for(loop_task, timeout=10)
    assert time.monotonic() - started < GRACE + 2

    assert handlers.finished == ["quick"]
    jobs = await _jobs(harness.runtime.sessionmaker)
    assert jobs["quick"].status == "done"
    stuck = jobs["stuck"]
    # Back in the queue now, not when its 60 s lease runs out, and the attempt not counted.
    assert (stuck.status, stuck.locked_by, stuck.locked_until) == ("queued", None, None)
    assert stuck.attempts == 0
    assert _released("stuck") == released_before + 1

    async def finish(_runtime: Runtime, _job: Job) -> None:
        pass

    other = Worker(harness.runtime, job_handlers={"stuck": finish}, event_handler=_no_events)
    assert await other.run_until_idle() == 1
    assert (await _jobs(harness.runtime.sessionmaker))["stuck"].status == "done"


async def test_a_cancelled_worker_still_hands_back_what_it_holds(graceful: Harness) -> None:
    harness = graceful
    handlers = Handlers()
    await _enqueue_both(harness)
    loop_task = asyncio.create_task(handlers.worker(harness.runtime).run_forever(handlers.stop))
    await handlers.all_started()

    loop_task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(loop_task, timeout=10)

    jobs = await _jobs(harness.runtime.sessionmaker)
    assert {kind: (job.status, job.locked_by) for kind, job in jobs.items()} == {
        "quick": ("queued", None),
        "stuck": ("queued", None),
    }


async def test_a_job_with_a_newer_waiting_twin_keeps_its_lease(graceful: Harness) -> None:
    """Only one job per dedupe key may wait: the newer one does the work, this one expires."""
    harness = graceful
    handlers = Handlers()
    await _enqueue_both(harness, dedupe_key="draft:7")
    loop_task = asyncio.create_task(handlers.worker(harness.runtime).run_forever(handlers.stop))
    await handlers.all_started()
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        await queue.enqueue(session, "later", {}, dedupe_key="draft:7")

    handlers.stop.set()
    await asyncio.wait_for(loop_task, timeout=10)

    async with unit_of_work(harness.runtime.sessionmaker) as session:
        rows = (await session.scalars(select(Job).where(Job.dedupe_key == "draft:7"))).all()
    assert sorted((job.kind, job.status) for job in rows) == [
        ("later", "queued"),
        ("stuck", "running"),
    ]


async def _stored(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with unit_of_work(sessionmaker) as session:
        return len((await session.scalars(select(InboxEvent.id))).all())


async def test_stopping_the_writer_stores_every_body_handed_over(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    writer = InboxWriter(engine, max_wait_seconds=0.05, max_batch=7)
    await writer.start()
    stores = [asyncio.create_task(writer.store(f'{{"n": {n}}}')) for n in range(40)]
    await asyncio.sleep(0)  # every body is queued; the first batch is being gathered

    await asyncio.wait_for(writer.stop(), timeout=10)

    done, pending = await asyncio.wait(stores, timeout=5)
    assert not pending, "a request would wait forever for its answer"
    assert all(task.exception() is None for task in done)
    assert await _stored(sessionmaker) == 40
    with pytest.raises(RuntimeError, match="not running"):
        await writer.store('{"late": true}')


async def test_a_writer_that_cannot_store_fails_its_requests_instead_of_hanging() -> None:
    connections: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)  # a database that never answers

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = int(server.sockets[0].getsockname()[1])
    engine = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/x")
    writer = InboxWriter(engine)
    try:
        await writer.start()
        stores = [asyncio.create_task(writer.store(f'{{"n": {n}}}')) for n in range(5)]
        await asyncio.sleep(0.05)
        await asyncio.wait_for(writer.stop(wait_seconds=0.5), timeout=10)
        results = await asyncio.wait_for(asyncio.gather(*stores, return_exceptions=True), timeout=5)
        assert all(isinstance(result, Exception) for result in results)
    finally:
        await engine.dispose()
        for connection in connections:
            connection.close()
        server.close()
        await server.wait_closed()


async def test_a_worker_loads_the_language_model_before_its_first_item(
    graceful: Harness,
) -> None:
    """Loading the n-gram model takes about half a second of CPU: done on the event loop by
    the first draft, it would stall every item and webhook the process serves meanwhile."""
    language._identifier.cache_clear()
    stop = asyncio.Event()
    seen: list[bool] = []

    async def first(_runtime: Runtime, _job: Job) -> None:
        seen.append(language.model_loaded())
        stop.set()

    async with unit_of_work(graceful.runtime.sessionmaker) as session:
        await queue.enqueue(session, "first", {})
    worker = Worker(graceful.runtime, job_handlers={"first": first}, event_handler=_no_events)
    await asyncio.wait_for(worker.run_forever(stop), timeout=20)
    assert seen == [True]
