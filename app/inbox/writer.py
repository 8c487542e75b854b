"""Group commit for webhook bodies.

A commit per request through SQLAlchemy costs several times the rest of the request, while
a batched insert costs almost nothing. Every request hands its body to one writer task,
which inserts all bodies that arrived within a few milliseconds in one transaction and then
answers each waiting request. A request still returns only after its own row is committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.clock import utc_now
from app.core.db import unit_of_work
from app.inbox.repository import insert_raw_events

log = structlog.get_logger("app.inbox")


@dataclass(slots=True)
class _Pending:
    body: str
    sha256: str
    done: asyncio.Future[None]


class InboxWriter:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        max_batch: int = 200,
        max_wait_seconds: float = 0.002,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._max_batch = max_batch
        self._max_wait = max_wait_seconds
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="inbox-writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def store(self, body: str) -> None:
        """Returns once the body is committed (or already was); raises if it could not be."""
        if self._task is None or self._task.done():
            raise RuntimeError("inbox writer is not running")
        pending = _Pending(
            body=body,
            sha256=hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest(),
            done=asyncio.get_running_loop().create_future(),
        )
        await self._queue.put(pending)
        await pending.done

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            deadline = asyncio.get_running_loop().time() + self._max_wait
            while len(batch) < self._max_batch:
                timeout = deadline - asyncio.get_running_loop().time()
                if timeout <= 0 and self._queue.empty():
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), max(timeout, 0)))
                except TimeoutError:
                    break
            await self._flush(batch)

    async def _flush(self, batch: list[_Pending]) -> None:
        try:
            async with unit_of_work(self._sessionmaker) as session:
                await insert_raw_events(
                    session, [(p.body, p.sha256) for p in batch], received_at=utc_now()
                )
        except Exception as exc:
            log.exception("inbox.store_failed", batch_size=len(batch))
            for pending in batch:
                if not pending.done.done():
                    pending.done.set_exception(exc)
            return
        for pending in batch:
            if not pending.done.done():
                pending.done.set_result(None)
