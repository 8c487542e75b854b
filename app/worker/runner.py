"""The worker loop: claim inbox events and jobs, run their handlers, record the outcome.

Handlers run outside the claim's transaction and open their own units of work, so a slow
LLM call never holds a database transaction. Handlers are idempotent: an item whose worker
died after the handler's writes but before `complete` runs again and finds its work done.
What a worker holds stays leased to it through its heartbeat (app.worker.heartbeat).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from datetime import datetime
from typing import Any, TypeVar

import structlog
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import language
from app.core.db import each_on_its_own, unit_of_work
from app.inbox.writer import INBOX_CHANNEL
from app.models import InboxEvent, Job
from app.ops.metrics import record_worker_item
from app.runtime import Runtime
from app.worker import queue
from app.worker.heartbeat import Heartbeat

log = structlog.get_logger("app.worker")
T = TypeVar("T")

# How long cancelled handlers get to unwind (roll back) before their items are released.
_CANCEL_WAIT_SECONDS = 5.0
# Recording an item's outcome while the database restarts: try again after these pauses
# (16 s in all) before leaving the item to its lease, which would hold it a whole lease.
_RECORD_RETRY_SECONDS = (0.5, 1.0, 2.0, 4.0, 8.0)

JobHandler = Callable[[Runtime, Job], Awaitable[None]]
# Normalises a batch of stored webhook bodies in one transaction; raises if any fails.
EventHandler = Callable[[Runtime, list[InboxEvent]], Awaitable[None]]
# Inbox events claimed and normalised together: one transaction (and one account lookup,
# one INSERT of jobs) for the batch instead of one per body.
EVENT_BATCH = 16


class RetryLater(Exception):
    """A handler's step should be tried again later (after `retry_after` seconds if given)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Postpone(Exception):
    """Not now, and not a failure: run again at `until` without counting an attempt."""

    def __init__(self, reason: str, until: datetime) -> None:
        super().__init__(reason)
        self.until = until


class PermanentFailure(Exception):
    """Retrying cannot help: park the item as failed with this reason."""


class Unprocessable(PermanentFailure):
    """The item can never be processed (a webhook body we cannot read): kept, set aside."""


class Worker:
    def __init__(
        self,
        runtime: Runtime,
        *,
        job_handlers: dict[str, JobHandler],
        event_handler: EventHandler,
        concurrency: int | None = None,
        worker_id: str | None = None,
        periodic: dict[str, float] | None = None,
        event_batch: int = EVENT_BATCH,
    ) -> None:
        self.runtime = runtime
        self.job_handlers = job_handlers
        self.periodic = periodic or {}
        self._done: list[Job | InboxEvent] = []
        # What each task runs: one job, or a batch of inbox events.
        self._held: dict[asyncio.Task[None], tuple[Job | InboxEvent, ...]] = {}
        self.event_batch = event_batch
        # Items whose handler is running (not yet recording its outcome), by model and id.
        self._in_handler: set[tuple[type[Job | InboxEvent], int]] = set()
        self._wakeup = asyncio.Event()
        self._next_schedule_check = 0.0
        # Whether the last claim took all it asked for (so more may be waiting).
        self._maybe_more = False
        # Whether webhook bodies may be waiting: they are stored by the web process,
        # which wakes this worker (NOTIFY, or `wake` in-process); otherwise the poll
        # finds them. A slot freed by a finished item claims jobs only, as finished
        # handlers make jobs, never bodies: one statement less per finished item.
        self._events_due = True
        self.event_handler = event_handler
        self.concurrency = concurrency or runtime.settings.WORKER_CONCURRENCY
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        settings = runtime.settings
        self.backoff = queue.Backoff(
            settings.JOB_BACKOFF_BASE_SECONDS, settings.JOB_BACKOFF_MAX_SECONDS
        )
        self.heartbeat = Heartbeat(
            runtime.engine,
            worker_id=self.worker_id,
            lease_seconds=settings.WORKER_LEASE_SECONDS,
            held=self._holding,
            lost=self._lose,
        )

    async def run_once(self) -> int:
        """Claims what is due, runs it, returns how many items were handled."""
        async with each_on_its_own(self.runtime.reader) as session:
            await self._flush_done(session)
            events = await self._claim(session, InboxEvent, self.event_batch)
        # Events first: they create the conversations that jobs work on.
        await self._handle_events(events)
        async with each_on_its_own(self.runtime.reader) as session:
            await self._flush_done(session)
            jobs = await self._claim(session, Job, self.concurrency)
        await self._run_all([self._handle(item) for item in jobs])
        async with each_on_its_own(self.runtime.reader) as session:
            await self._flush_done(session)
        return len(events) + len(jobs)

    async def run_until_idle(self, max_rounds: int = 50) -> int:
        """Runs rounds until nothing is due (for tests). Without a heartbeat: each round's
        items must finish within a lease."""
        total = 0
        for _ in range(max_rounds):
            handled = await self.run_once()
            total += handled
            if handled == 0:
                break
        return total

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Keeps up to `concurrency` items in flight, claiming more as slots free up, so a
        slow LLM call never holds back sends. On stop, finishes what it holds within
        SHUTDOWN_GRACE_SECONDS and releases the rest (see `_shut_down`). The heartbeat
        keeps every lease it holds alive until then, the grace included."""
        await asyncio.to_thread(language.load_model)
        log.info("worker.started", worker_id=self.worker_id, concurrency=self.concurrency)
        async with self._listening(), self.heartbeat.running():
            await self._loop(stop)
        log.info("worker.stopped", worker_id=self.worker_id)

    @contextlib.asynccontextmanager
    async def _listening(self) -> AsyncIterator[None]:
        """On PostgreSQL (asyncpg), wakes on the webhook writer's NOTIFY; polling stays the
        fallback, so a lost listening connection only costs latency."""
        engine = self.runtime.engine
        if engine.dialect.name != "postgresql" or engine.dialect.driver != "asyncpg":
            yield
            return
        try:
            connection = await engine.connect()
            raw: Any = (await connection.get_raw_connection()).driver_connection
            await raw.add_listener(INBOX_CHANNEL, lambda *_args: self.wake())
        except Exception:
            log.warning("worker.listen_failed")
            yield
            return
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                await connection.close()

    async def _loop(self, stop: asyncio.Event) -> None:
        running: set[asyncio.Task[None]] = set()
        try:
            while not stop.is_set():
                self._maybe_more = False
                try:
                    await self.schedule_periodic()
                    await self._fill(running)
                except (DBAPIError, OSError) as exc:
                    # The database is away (a restart, an outage): expected, and logged in a
                    # line. A rendered traceback per poll blocks the loop for seconds, which
                    # the heartbeat renewing this worker's leases cannot afford.
                    log.warning(
                        "worker.claim_failed", error=type(exc).__name__, detail=_first_line(exc)
                    )
                except Exception:  # a bug: the loop goes on, the traceback is logged
                    log.exception("worker.claim_failed")
                # Claim again at once only if the last claim may have left work behind
                # (it took all it asked for); otherwise wait for a finished item, a wake-up
                # or the poll: a claim that finds nothing is a transaction for nothing.
                if not self._maybe_more or len(running) >= self.concurrency:
                    await self._wait(running, stop)
        except asyncio.CancelledError:
            # Cancelled from outside (the web process's shutdown ran out of time): no
            # grace left, but still hand back what this worker holds.
            await self._shut_down(running, grace=0)
            raise
        await self._shut_down(running, grace=self.runtime.settings.SHUTDOWN_GRACE_SECONDS)

    async def _shut_down(self, running: set[asyncio.Task[None]], *, grace: float) -> None:
        """Lets the items in flight finish for up to `grace` seconds, then cancels the
        others and hands them back to the queue at once, not when their leases run out,
        so another worker takes them now. Their handlers are idempotent: a draft is made
        again; a send cut off during its call to Meta is never repeated blindly (see
        app.outbox.jobs). Records what finished in the same transaction."""
        if running and grace > 0:
            log.info(
                "worker.stopping", worker_id=self.worker_id, held=len(running), grace_seconds=grace
            )
            await asyncio.wait(running, timeout=grace)
        stranded = {task: self._held[task] for task in running if not task.done()}
        for task in stranded:
            task.cancel()
        if stranded:
            await asyncio.wait(stranded, timeout=_CANCEL_WAIT_SECONDS)
        items = [item for held in stranded.values() for item in held]
        try:
            async with unit_of_work(self.runtime.sessionmaker) as session:
                await self._flush_done(session)
                job_ids = [item.id for item in items if isinstance(item, Job)]
                event_ids = [item.id for item in items if isinstance(item, InboxEvent)]
                if job_ids:
                    await queue.release(session, Job, job_ids, worker_id=self.worker_id)
                if event_ids:
                    await queue.release(session, InboxEvent, event_ids, worker_id=self.worker_id)
        except Exception:  # the leases expire anyway; this only makes it sooner
            log.exception("worker.release_failed", items=len(items))
            return
        for item in items:
            record_worker_item(item.kind if isinstance(item, Job) else "event", "released")
        if items:
            log.warning("worker.released", worker_id=self.worker_id, items=len(items))

    async def _fill(self, running: set[asyncio.Task[None]]) -> int:
        free = self.concurrency - len(running)
        # What finished is recorded with the claim of what is next; each statement stands
        # on its own (a completion, a claim: each whole in one statement), without the
        # BEGIN and COMMIT round trips of a transaction around them.
        done = list(self._done)
        recorded = False
        try:
            async with each_on_its_own(self.runtime.reader) as session:
                await self._flush_done(session)
                recorded = True
                if free <= 0:
                    return 0
                # Half the free slots for each queue, the rest to whichever has work: a
                # burst of webhooks must not starve the replies already drafted, nor the
                # reverse.
                half = max(1, free // 2)
                jobs: list[Job] = await self._claim(session, Job, half)
                events: list[InboxEvent] = []
                if len(jobs) < free and self._events_due:
                    # A batch of events takes one slot: it runs as one task.
                    events = await self._claim(session, InboxEvent, self.event_batch)
                    self._events_due = len(events) == self.event_batch
                taken = len(jobs) + (1 if events else 0)
                # More jobs only if the first claim took all it asked for: fewer means
                # none was left (every claim is a round trip, after every finished item).
                if taken < free and len(jobs) == half:
                    rest = free - taken
                    more = await self._claim(session, Job, rest)
                    jobs.extend(more)
                    self._maybe_more = len(more) == rest or len(events) == self.event_batch
                else:
                    self._maybe_more = len(jobs) == half or len(events) == self.event_batch
        except Exception:
            if not recorded:
                self._done[:0] = done  # not recorded: recorded with the next claim instead
            self._events_due = True
            # A claim that went through before the failure stands: its items wait out
            # their lease (WORKER_LEASE_SECONDS), then a worker takes them again.
            raise
        for job in jobs:
            self._start(running, self._handle(job), (job,))
        if events:
            self._start(running, self._handle_events(events), tuple(events))
        return len(jobs) + len(events)

    def _start(
        self,
        running: set[asyncio.Task[None]],
        work: Coroutine[Any, Any, None],
        items: tuple[Job | InboxEvent, ...],
    ) -> None:
        task = asyncio.create_task(work)
        running.add(task)
        self._held[task] = items
        task.add_done_callback(running.discard)
        task.add_done_callback(self._release)

    def _release(self, task: asyncio.Task[None]) -> None:
        self._held.pop(task, None)

    def _holding(self) -> list[Job | InboxEvent]:
        """Every item this worker holds a lease on: in flight, or finished and waiting for
        its outcome to be written with the next claim."""
        return [*(item for held in self._held.values() for item in held), *self._done]

    def _lose(self, items: list[Job | InboxEvent]) -> None:
        """The heartbeat found these no longer held (another worker took them over after
        their lease ran out): their handlers stop, and this worker records nothing for them.
        Items already recording an outcome, or recorded meanwhile, are left alone: their
        writes only touch rows this worker still holds."""
        keys = {(type(item), item.id) for item in items}
        stale = [item for item in self._done if (type(item), item.id) in keys]
        self._done = [item for item in self._done if (type(item), item.id) not in keys]
        # A batch of events is cancelled as a whole (its transaction rolls back); the
        # batch's other events are no longer renewed once its task ends, so their leases
        # run out and another worker takes them, as after a crash.
        lost_now = keys & self._in_handler
        running = [
            (task, [item for item in held if (type(item), item.id) in lost_now])
            for task, held in self._held.items()
        ]
        running = [(task, items) for task, items in running if items]
        for task, _items in running:
            task.cancel()
        for item in [*stale, *(item for _task, items in running for item in items)]:
            kind = item.kind if isinstance(item, Job) else "event"
            log.warning("worker.lease_lost", item_kind=kind, item_id=item.id)
            record_worker_item(kind, "lost")

    def wake(self) -> None:
        """New work was stored in this process: look now instead of at the next poll."""
        self._wakeup.set()

    async def _wait(self, running: set[asyncio.Task[None]], stop: asyncio.Event) -> None:
        """Until an item finishes (a slot is free), new work is announced, the poll
        interval passes, or stop."""
        self._wakeup.clear()
        waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(self._wakeup.wait())]
        try:
            finished, _pending = await asyncio.wait(
                [*running, *waiters],
                timeout=self.runtime.settings.WORKER_POLL_SECONDS,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            for waiter in waiters:
                waiter.cancel()
        if not finished or self._wakeup.is_set():  # the poll came round, or a wake-up
            self._events_due = True

    async def schedule_periodic(self, *, force: bool = False) -> None:
        """Makes sure each periodic job has its next run waiting (checked every 30 s)."""
        now = asyncio.get_running_loop().time()
        if not self.periodic or (not force and now < self._next_schedule_check):
            return
        self._next_schedule_check = now + 30
        async with unit_of_work(self.runtime.sessionmaker) as session:
            for kind, every in self.periodic.items():
                await queue.ensure_scheduled(session, kind, every_seconds=every)

    async def _claim(self, session: AsyncSession, model: type[Any], limit: int) -> list[Any]:
        return await queue.claim(
            session,
            model,
            worker_id=self.worker_id,
            limit=limit,
            lease_seconds=self.runtime.settings.WORKER_LEASE_SECONDS,
            held_ids=[item.id for item in self._holding() if isinstance(item, model)],
        )

    async def _flush_done(self, session: AsyncSession) -> None:
        """Marks finished items done, batched into the next claim's transaction. Until
        then they stay leased to this worker; if it dies first they run again, and their
        idempotent handlers find the work done."""
        done, self._done = self._done, []
        job_ids = [item.id for item in done if isinstance(item, Job)]
        event_ids = [item.id for item in done if isinstance(item, InboxEvent)]
        if job_ids:
            await queue.complete_many(session, Job, job_ids, worker_id=self.worker_id)
        if event_ids:
            await queue.complete_many(session, InboxEvent, event_ids, worker_id=self.worker_id)

    async def _run_all(self, coroutines: list[Awaitable[None]]) -> None:
        if coroutines:
            await asyncio.gather(*coroutines)

    async def _handle(self, item: Job | InboxEvent) -> None:
        """Runs one item and records its outcome. Its log context (the ids below, and
        whatever the handler binds: account, conversation, draft) lives only as long as
        the item: each item runs in its own task, and the context is restored after it."""
        kind = item.kind if isinstance(item, Job) else "event"
        before = structlog.contextvars.get_contextvars()
        if isinstance(item, Job):
            structlog.contextvars.bind_contextvars(job_id=item.id, job_kind=item.kind)
            if item.account_id is not None:
                structlog.contextvars.bind_contextvars(account_id=item.account_id)
        else:
            structlog.contextvars.bind_contextvars(event_id=item.id)
        started = time.perf_counter()
        tracing = self.runtime.tracing
        try:
            if tracing is None:
                outcome = await self._run_item(item)
            else:
                with tracing.item_span(kind, item.id) as span:
                    outcome = await self._run_item(item)
                    span.set_attribute("inboxpilot.item.outcome", outcome)
            record_worker_item(kind, outcome, time.perf_counter() - started)
        except Exception:
            # The database stayed away: the item's lease runs out and it runs again.
            log.exception("worker.outcome_not_recorded")
            record_worker_item(kind, "unrecorded", time.perf_counter() - started)
        finally:
            structlog.contextvars.clear_contextvars()
            structlog.contextvars.bind_contextvars(**before)

    async def _run_item(self, item: Job | InboxEvent) -> str:
        """Runs the handler; the outcome: done, postponed, retry or failed."""
        try:
            await self._dispatch(item)
        except Postpone as exc:
            until, reason = exc.until, str(exc)
            await self._record(
                lambda session: queue.postpone(
                    session, item, worker_id=self.worker_id, until=until, reason=reason
                )
            )
            return "postponed"
        except RetryLater as exc:
            error = f"{type(exc).__name__}: {exc}"
            return await self._fail(item, error, retry_after=exc.retry_after)
        except Unprocessable as exc:
            return await self._fail(item, str(exc), permanent=True, final_status="unprocessable")
        except PermanentFailure as exc:
            return await self._fail(item, f"{type(exc).__name__}: {exc}", permanent=True)
        except Exception as exc:
            log.exception("worker.handler_failed")
            return await self._fail(item, f"{type(exc).__name__}: {exc}")
        self._done.append(item)
        return "done"

    async def _handle_events(self, events: list[InboxEvent]) -> None:
        """Normalises a batch of events in one transaction, then marks them done together
        (with the next claim, like any item). If the batch fails, each event runs again
        alone, in its own transaction, and gets its own outcome: a body that cannot be read
        is parked by itself, and the others go through."""
        if len(events) <= 1:
            await self._run_all([self._handle(item) for item in events])
            return
        before = structlog.contextvars.get_contextvars()
        structlog.contextvars.bind_contextvars(event_ids=[item.id for item in events])
        started = time.perf_counter()
        try:
            await self._dispatch_events(events)
        except Exception as exc:
            log.warning(
                "worker.batch_failed",
                events=len(events),
                error=type(exc).__name__,
                detail=_first_line(exc),
            )
        else:
            self._done.extend(events)
            elapsed = (time.perf_counter() - started) / len(events)
            for _item in events:
                record_worker_item("event", "done", elapsed)
            return
        finally:
            structlog.contextvars.clear_contextvars()
            structlog.contextvars.bind_contextvars(**before)
        for item in events:
            await self._handle(item)

    async def _dispatch_events(self, events: list[InboxEvent]) -> None:
        keys = [(InboxEvent, item.id) for item in events]
        self._in_handler.update(keys)
        try:
            tracing = self.runtime.tracing
            if tracing is None:
                await self.event_handler(self.runtime, events)
                return
            with tracing.item_span("event", events[0].id) as span:
                span.set_attribute("inboxpilot.item.batch", len(events))
                await self.event_handler(self.runtime, events)
        finally:
            self._in_handler.difference_update(keys)

    async def _dispatch(self, item: Job | InboxEvent) -> None:
        key = (type(item), item.id)
        self._in_handler.add(key)
        try:
            if isinstance(item, InboxEvent):
                await self.event_handler(self.runtime, [item])
                return
            handler = self.job_handlers.get(item.kind)
            if handler is None:
                raise PermanentFailure(f"no handler for job kind {item.kind!r}")
            await handler(self.runtime, item)
        finally:
            self._in_handler.discard(key)

    async def _record(self, write: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Writes an item's outcome in its own transaction, retried while the database is
        unreachable (a restart), so the item goes back to the queue seconds after the
        database does, not a lease later."""
        for pause in (*_RECORD_RETRY_SECONDS, None):
            try:
                async with unit_of_work(self.runtime.sessionmaker) as session:
                    return await write(session)
            except (SQLAlchemyError, OSError):
                if pause is None:
                    raise
                log.warning("worker.record_retry", pause_seconds=pause)
                await asyncio.sleep(pause)
        raise AssertionError("unreachable")

    async def _fail(
        self,
        item: Job | InboxEvent,
        error: str,
        *,
        retry_after: float | None = None,
        permanent: bool = False,
        final_status: str = queue.FAILED,
    ) -> str:
        max_attempts = (
            item.max_attempts if isinstance(item, Job) else self.runtime.settings.JOB_MAX_ATTEMPTS
        )
        status = await self._record(
            lambda session: queue.fail(
                session,
                item,
                worker_id=self.worker_id,
                error=error,
                max_attempts=max_attempts,
                backoff=self.backoff,
                retry_after=retry_after,
                permanent=permanent,
                final_status=final_status,
            )
        )
        log.warning("worker.item_failed", status=status, attempts=item.attempts, error=error)
        return "retry" if status == queue.QUEUED else "failed"


def _first_line(exc: BaseException) -> str:
    """The driver's own message, first line only (no SQL statement, no parameters)."""
    cause = getattr(exc, "orig", None) or exc
    return (str(cause).splitlines() or [""])[0][:200]
