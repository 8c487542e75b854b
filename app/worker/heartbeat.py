"""Short leases kept alive by a heartbeat: a dead worker's items are taken over within
seconds, a slow one's never.

Every item a worker claims is leased for `WORKER_LEASE_SECONDS` (default 8): its row says
who holds it (`locked_by`) and until when (`locked_until`). While the item is in flight,
and after it finished until its outcome is written, the worker's heartbeat renews the
leases of everything it holds every eighth of a lease, in one transaction on a connection
of its own (a pool busy with handlers never delays it), in a task of its own (a handler
that runs for minutes, or waits on a slow LLM, never delays it). A worker that dies (kill
-9, a lost machine) stops renewing, and an idle worker takes its items over at most
`takeover_seconds` later (the lease, plus one poll). A worker that is merely slow keeps
its items: its event loop may be blocked, or the database slow to answer, for up to seven
eighths of a lease (7 s by default) before a renewal comes too late.

Holding is fenced by `locked_by`, not by the clock: a claim of an expired lease writes the
new holder in the same statement that re-checks the expiry (under the row's lock on
PostgreSQL; SQLite serialises writers), and every renewal and every outcome (`complete`,
`fail`, `postpone`, `release` in app.worker.queue) only touches rows still held by the
worker that writes. A renewal that finds an item gone cancels its handler, and the worker
records no outcome for it; handlers are idempotent and take turns on the rows they change,
so a handler cut off this way leaves nothing half done (a send cut off during its call to
Meta is parked as `outcome_unknown`, never sent twice).

Leases are stamped with the worker's clock: the machines that run workers must keep their
clocks within a second or so of each other (NTP), far less than a lease.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.config import Settings
from app.models import InboxEvent, Job
from app.worker import queue

log = structlog.get_logger("app.worker")

Item = Job | InboxEvent
# Renewals per lease: how much of a lease a stalled event loop or a slow database may eat
# before a renewal is late (7/8), against one small UPDATE per model a beat.
BEATS_PER_LEASE = 8


def takeover_seconds(settings: Settings) -> float:
    """The longest an idle worker waits before taking over the items of a worker that died
    right after renewing them: the lease runs out, then the next poll claims them."""
    return settings.WORKER_LEASE_SECONDS + settings.WORKER_POLL_SECONDS


class Heartbeat:
    """Renews the leases of what `held()` returns, and hands the items it finds lost (taken
    over by another worker, or settled meanwhile) to `lost()`."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        worker_id: str,
        lease_seconds: float,
        held: Callable[[], Sequence[Item]],
        lost: Callable[[list[Item]], None],
    ) -> None:
        self.engine = engine
        self.worker_id = worker_id
        self.lease_seconds = lease_seconds
        self.interval = lease_seconds / BEATS_PER_LEASE
        self._held = held
        self._lost = lost
        self._connection: AsyncConnection | None = None
        self.task: asyncio.Task[None] | None = None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        self.task = asyncio.create_task(self._run(), name=f"heartbeat {self.worker_id}")
        try:
            yield
        finally:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            await self._disconnect()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time() + self.interval
        while True:
            await asyncio.sleep(max(0.0, due - loop.time()))
            late = loop.time() - due
            if late > self.interval:
                # The event loop was blocked (or a renewal was slow): leases ran down.
                log.warning("worker.heartbeat_late", late_seconds=round(late, 3))
            due = loop.time() + self.interval
            try:
                await self.beat()
            except Exception as exc:  # the database is away: try again at the next beat
                # No traceback: one a beat while the database is away would only be noise.
                log.warning("worker.heartbeat_failed", error=type(exc).__name__)
                await self._disconnect()

    async def beat(self) -> None:
        """One renewal of everything held, in one transaction."""
        items = list(self._held())
        if not items:
            return
        job_ids = [item.id for item in items if isinstance(item, Job)]
        event_ids = [item.id for item in items if isinstance(item, InboxEvent)]
        if self._connection is None:
            self._connection = await self.engine.connect()
        connection = self._connection
        async with connection.begin():
            jobs = await self._renew(connection, Job, job_ids)
            events = await self._renew(connection, InboxEvent, event_ids)
        renewed: set[tuple[type[Item], int]] = {(Job, item_id) for item_id in jobs}
        renewed.update((InboxEvent, item_id) for item_id in events)
        gone = [item for item in items if (type(item), item.id) not in renewed]
        if gone:
            self._lost(gone)

    async def _renew(
        self, connection: AsyncConnection, model: type[queue.QueueModel], ids: list[int]
    ) -> set[int]:
        if not ids:
            return set()
        return await queue.renew(
            connection, model, ids, worker_id=self.worker_id, lease_seconds=self.lease_seconds
        )

    async def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()
