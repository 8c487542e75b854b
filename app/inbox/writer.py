"""Group commit for webhook bodies.

A commit per request through SQLAlchemy costs several times the rest of the request, while
a batched insert costs almost nothing. Every request hands its body to the writer, whose
flushers each insert, in one transaction, every body waiting when the flusher is free, then
answer each waiting request. A request still returns only after its own row is committed.
Batches grow with the load by themselves (bodies wait while a commit is under way), so a
flusher does not wait for more: a timed wait (it was 2 ms) only added latency, and
cost a third of the acknowledgements at 16 connections. On PostgreSQL two flushers commit
side by side (the database groups their WAL flushes; three made smaller batches for more
CPU per body); SQLite takes one writer at a time, so it gets one flusher.

On PostgreSQL (asyncpg) a batch is one self-committing statement on the driver's
connection, its NOTIFY included: one round trip instead of four, and no SQLAlchemy
statement per batch. At 16 connections that took the acknowledgements from 37% to 61% of
the bare endpoint's rate (bench/run.py --quick --parts a, minutes apart).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.clock import utc_now
from app.inbox.repository import insert_raw_events, store_and_notify, store_in_one_statement

log = structlog.get_logger("app.inbox")

# PostgreSQL notification channel announcing new webhook bodies to worker processes.
INBOX_CHANNEL = "inboxpilot_inbox"


@dataclass(slots=True)
class _Pending:
    body: str
    sha256: str
    done: asyncio.Future[None]


class InboxWriter:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        flushers: int | None = None,
        max_batch: int = 200,
        max_wait_seconds: float = 0.0,  # > 0: wait this long for more bodies (tests)
        on_stored: Callable[[], None] | None = None,
    ) -> None:
        self._engine = engine
        self._on_stored = on_stored
        sqlite = engine.dialect.name == "sqlite"
        self._flushers = flushers or (1 if sqlite else 2)
        # Batches go through the driver's own connection, in one statement each.
        self._raw = (engine.dialect.name, engine.dialect.driver) in {
            ("postgresql", "asyncpg"),
            ("sqlite", "aiosqlite"),
        }
        self._max_batch = max_batch
        self._max_wait = max_wait_seconds
        # None is the stop marker, one per flusher.
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False

    async def start(self) -> None:
        self._closing = False
        self._tasks = [
            asyncio.create_task(self._run(), name=f"inbox-writer-{n}")
            for n in range(self._flushers)
        ]

    async def stop(self, *, wait_seconds: float = 10.0) -> None:
        """Stores every body handed over before the call, then stops the flushers.

        New bodies are refused from now on (their requests answer 503 and Meta delivers
        them again). Bodies still unwritten after `wait_seconds` (a database that does
        not answer) fail their requests the same way instead of leaving them waiting."""
        if not self._tasks:
            return
        self._closing = True
        for _ in self._tasks:
            self._queue.put_nowait(None)  # after every body already queued: FIFO
        _done, stuck = await asyncio.wait(self._tasks, timeout=wait_seconds)
        for task in stuck:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        while not self._queue.empty():
            left = self._queue.get_nowait()
            if left is not None:
                self._abandon([left])

    def _abandon(self, batch: list[_Pending]) -> None:
        for pending in batch:
            if not pending.done.done():
                pending.done.set_exception(RuntimeError("inbox writer stopped"))

    async def store(self, body: str) -> None:
        """Returns once the body is committed (or already was); raises if it could not be."""
        if self._closing or not self._tasks or all(task.done() for task in self._tasks):
            raise RuntimeError("inbox writer is not running")
        pending = _Pending(
            body=body,
            sha256=hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest(),
            done=asyncio.get_running_loop().create_future(),
        )
        self._queue.put_nowait(pending)
        await pending.done

    async def _run(self) -> None:
        """Flushes batches until it takes the stop marker (None) off the queue."""
        while True:
            first = await self._queue.get()
            if first is None:
                return
            batch = [first]
            try:
                stopping = await self._fill(batch)
                await self._flush(batch)
            except asyncio.CancelledError:
                self._abandon(batch)
                raise
            if stopping:
                return

    async def _fill(self, batch: list[_Pending]) -> bool:
        """Adds what arrives within `max_wait` to the batch; True if the stop marker came."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._max_wait
        while len(batch) < self._max_batch:
            if not self._queue.empty():
                item = self._queue.get_nowait()
            else:
                timeout = deadline - loop.time()
                if timeout <= 0:
                    return False
                try:
                    item = await asyncio.wait_for(self._queue.get(), timeout)
                except TimeoutError:
                    return False
            if item is None:
                return True
            batch.append(item)
        return False

    async def _flush(self, batch: list[_Pending]) -> None:
        bodies = [(p.body, p.sha256) for p in batch]
        try:
            if self._raw:
                # Stored (on PostgreSQL announced too: worker processes listening wake
                # at once) in one self-committing statement on the driver's connection.
                async with self._engine.connect() as connection:
                    raw = (await connection.get_raw_connection()).driver_connection
                    try:
                        if self._engine.dialect.name == "postgresql":
                            await store_and_notify(
                                raw, bodies, received_at=utc_now(), channel=INBOX_CHANNEL
                            )
                        else:
                            await store_in_one_statement(
                                raw, bodies, received_at=utc_now(), dialect=self._engine.dialect
                            )
                    except Exception:
                        # The driver's error bypassed SQLAlchemy, which would have
                        # dropped a dead connection (a database restart): drop it here,
                        # or every later batch would be handed the same dead one.
                        await connection.invalidate()
                        raise
            else:
                async with self._engine.begin() as connection:
                    await insert_raw_events(connection, bodies, received_at=utc_now())
        except Exception as exc:
            log.exception("inbox.store_failed", batch_size=len(batch))
            for pending in batch:
                if not pending.done.done():
                    pending.done.set_exception(exc)
            return
        for pending in batch:
            if not pending.done.done():
                pending.done.set_result(None)
        if self._on_stored is not None:
            self._on_stored()
