"""The database as a queue: enqueue, claim with a lease, complete, retry with backoff.

Claiming takes rows whose run time has come and that nobody holds (status `queued`, or
`running` with an expired lease: its worker died). On PostgreSQL the candidates are locked
with SKIP LOCKED, so concurrent workers never take the same row; SQLite serialises writers.
Leases are short and renewed by each worker's heartbeat (app.worker.heartbeat); every
write about a leased item checks `locked_by`, so a worker that lost a lease changes nothing.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import Integer, Table, and_, bindparam, case, exists, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.dml import Insert

from app.core.clock import utc_now
from app.core.db import (
    among,
    bound_row,
    dialect_name,
    insert_ignore,
    picked_once,
)
from app.models import InboxEvent, Job

QueueModel = TypeVar("QueueModel", Job, InboxEvent)

QUEUED = "queued"
RUNNING = "running"
DONE = "done"
FAILED = "failed"


# The condition of the partial unique index uq_jobs_dedupe_key_queued, literally (a bound
# parameter would not match the index on PostgreSQL).
_QUEUED_KEY_INDEX = text("status = 'queued'")


@dataclass(frozen=True, slots=True)
class Backoff:
    base_seconds: float = 2.0
    max_seconds: float = 600.0

    def delay(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**attempt)], at least half a base."""
        ceiling = min(self.max_seconds, self.base_seconds * (2 ** max(0, attempt - 1)))
        return max(self.base_seconds / 2, random.uniform(0, ceiling))


def job_values(
    kind: str,
    payload: dict[str, Any],
    *,
    run_at: datetime | None = None,
    dedupe_key: str | None = None,
    account_id: int | None = None,
    max_attempts: int = 8,
    priority: int = 5,
) -> dict[str, Any]:
    """The row of a new waiting job (every column given: rows of one multi-row INSERT
    must agree on their columns)."""
    now = utc_now()
    return {
        "kind": kind,
        "payload": payload,
        "status": QUEUED,
        "attempts": 0,
        "run_at": run_at or now,
        "dedupe_key": dedupe_key,
        "account_id": account_id,
        "max_attempts": max_attempts,
        "priority": priority,
        "created_at": now,
        "updated_at": now,
    }


@functools.cache
def _one_row_statement(dialect: str) -> Insert:
    """INSERT a row; a row whose `dedupe_key` has a job waiting pushes that job instead
    (to the later of the two run times, with the new payload). One statement, atomic on
    both databases: on PostgreSQL a job a worker claims meanwhile no longer matches the
    partial index, so the row is inserted as a new waiting job. The row inserted or
    pushed stays locked until the transaction ends, so a worker cannot start it (SKIP
    LOCKED) before the data this transaction writes for it is committed.

    Built once per database, the row's values bound at execution (`_queue_params`); on
    the table, not the mapped class: a statement naming the ORM entity is copied and its
    cache key computed again on every execution."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return _upsert(insert(_JOBS).values(bound_row(_JOBS, _JOB_COLUMNS, prefix="new_")))


_JOBS = cast(Table, Job.__table__)


# The columns of `job_values`, in its order.
_JOB_COLUMNS = tuple(job_values("kind", {}))


def _queue_params(row: dict[str, Any]) -> dict[str, Any]:
    """The parameters `_one_row_statement` takes for `row`."""
    return {f"new_{column}": value for column, value in row.items()}


def _upsert(statement: postgresql.Insert | sqlite.Insert) -> Insert:
    excluded = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=["dedupe_key"],
        index_where=_QUEUED_KEY_INDEX,
        set_={
            "run_at": case(
                (_JOBS.c.run_at > excluded.run_at, _JOBS.c.run_at), else_=excluded.run_at
            ),
            "payload": excluded.payload,
            "updated_at": excluded.updated_at,
        },
    )


async def enqueue(
    session: AsyncSession,
    kind: str,
    payload: dict[str, Any],
    *,
    run_at: datetime | None = None,
    dedupe_key: str | None = None,
    account_id: int | None = None,
    max_attempts: int = 8,
    priority: int = 5,
) -> int:
    """Adds a job in the caller's transaction, in one statement, and answers its id. With
    a `dedupe_key`, a job already waiting under that key is pushed to `run_at` instead (a
    burst of messages makes one draft), and stays locked until the transaction ends."""
    values = job_values(
        kind,
        payload,
        run_at=run_at,
        dedupe_key=dedupe_key,
        account_id=account_id,
        max_attempts=max_attempts,
        priority=priority,
    )
    job_id = await session.scalar(_enqueue_statement(dialect_name(session)), _queue_params(values))
    assert job_id is not None  # DO UPDATE returns the pushed row
    return int(job_id)


@functools.cache
def _enqueue_statement(dialect: str) -> Insert:
    """`enqueue`'s statement, built once per database: the one-row upsert, returning the
    id (returning the ORM row instead cost 1.1 ms of CPU per call, this 0.7-0.9 ms in
    the same in-process runs, issue 15)."""
    return _one_row_statement(dialect).returning(_JOBS.c.id)


class PendingJobs:
    """Jobs a unit of work queues as it goes, written together in one statement just
    before it commits (`write`): a batch of inbox events makes one INSERT for all their
    draft and profile jobs instead of one or two statements per event.

    Requests under the same `dedupe_key` merge as consecutive `enqueue` calls would: the
    later run time, the last payload. Nothing is written unless `write` runs, so the
    owner of the unit of work must call it before committing."""

    def __init__(self) -> None:
        self._rows: list[dict[str, Any]] = []
        self._keyed: dict[str, dict[str, Any]] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def add(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        run_at: datetime | None = None,
        dedupe_key: str | None = None,
        account_id: int | None = None,
        max_attempts: int = 8,
        priority: int = 5,
    ) -> None:
        values = job_values(
            kind,
            payload,
            run_at=run_at,
            dedupe_key=dedupe_key,
            account_id=account_id,
            max_attempts=max_attempts,
            priority=priority,
        )
        earlier = None if dedupe_key is None else self._keyed.get(dedupe_key)
        if earlier is None:
            self._rows.append(values)
            if dedupe_key is not None:
                self._keyed[dedupe_key] = values
            return
        earlier["run_at"] = max(earlier["run_at"], values["run_at"])
        earlier["payload"] = values["payload"]

    async def write(self, session: AsyncSession) -> None:
        """One statement for every row: the upsert built once, executed for each row's
        parameters in one call (the driver's executemany). A multi-row VALUES has no cache
        key: SQLAlchemy compiled it on every batch, about a millisecond of CPU per job row
        (in a burst, a tenth of the worker's CPU; issue 15)."""
        rows, self._rows, self._keyed = self._rows, [], {}
        if rows:
            statement = _one_row_statement(dialect_name(session))
            await session.execute(statement, [_queue_params(row) for row in rows])


async def ensure_scheduled(session: AsyncSession, kind: str, *, every_seconds: float) -> None:
    """Keeps one waiting run of a periodic job, due `every_seconds` after the last one: a
    run already waiting is left as it is (pushing it would postpone it forever)."""
    values = job_values(
        kind, {}, run_at=utc_now() + timedelta(seconds=every_seconds), dedupe_key=f"periodic:{kind}"
    )
    await session.execute(
        insert_ignore(session, Job, ["dedupe_key"], index_where=_QUEUED_KEY_INDEX).values(values)
    )


def _claimable(model: type[QueueModel], now: datetime) -> Any:
    return or_(
        and_(model.status == QUEUED, model.run_at <= now),
        and_(model.status == RUNNING, model.locked_until < now),
    )


async def claim(
    session: AsyncSession,
    model: type[QueueModel],
    *,
    worker_id: str,
    limit: int,
    lease_seconds: float,
    held_ids: Collection[int] = (),
) -> list[QueueModel]:
    """Takes up to `limit` items for `worker_id` and leases them; the caller commits.
    `held_ids` are items this worker still runs: never taken again, even if their lease
    ran out while its event loop was blocked (its heartbeat renews or gives them up).

    The items come back as detached instances, built from the row the UPDATE returns:
    handlers read them, and every write about them is a statement by id."""
    now = utc_now()
    connection = await session.connection()
    rows = await connection.execute(
        _claim_statement(model, connection.dialect.name),
        {
            "now": now,
            "until": now + timedelta(seconds=lease_seconds),
            "worker_id": worker_id,
            "limit": limit,
            "held": list(held_ids),
        },
    )
    items = [model(**row._mapping) for row in rows]
    # RETURNING promises no order.
    items.sort(key=lambda item: (getattr(item, "priority", 0), item.run_at, item.id))
    return items


@functools.cache
def _claim_statement(model: type[QueueModel], dialect: str) -> Any:
    """The claim, built once per queue and database: one statement that picks the
    candidates and locks them (SKIP LOCKED: a row another worker is taking is passed
    over, not waited for), and leases them in the UPDATE around them, which checks again
    that each is still claimable. Built each call, the statement cost more CPU than the
    round trip (the worker claims after every finished item)."""
    table = cast(Table, model.__table__)
    c = table.c
    now = bindparam("now", type_=c.run_at.type)
    claimable = or_(
        and_(c.status == QUEUED, c.run_at <= now),
        and_(c.status == RUNNING, c.locked_until < now),
    )
    order = [c.run_at, c.id]
    if "priority" in c:
        order.insert(0, c.priority)
    candidates = (
        select(c.id)
        .where(claimable, among(dialect, c.id, "held", negate=True))
        .order_by(*order)
        .limit(bindparam("limit", type_=Integer))
    )
    return (
        update(table)
        .where(c.id.in_(picked_once(dialect, candidates)), claimable)
        .values(
            status=RUNNING,
            locked_by=bindparam("worker_id", type_=c.locked_by.type),
            locked_until=bindparam("until", type_=c.locked_until.type),
            attempts=c.attempts + 1,
            **({"updated_at": now} if "updated_at" in c else {}),
        )
        .returning(*c)
    )


async def complete(session: AsyncSession, item: Job | InboxEvent, *, worker_id: str) -> bool:
    """Marks an item done if this worker still holds it; False if its lease was lost."""
    model = type(item)
    values: dict[str, Any] = {"status": DONE, "locked_until": None, "last_error": None}
    values["finished_at" if model is Job else "processed_at"] = utc_now()
    result = await session.execute(
        update(model)
        .where(model.id == item.id, model.locked_by == worker_id, model.status == RUNNING)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def _newer_waiting(session: AsyncSession, item: Job | InboxEvent) -> bool:
    """A job with a `dedupe_key` cannot go back to the queue while another job with that
    key waits there (a unique index allows one); that job will do the same work."""
    if not isinstance(item, Job) or item.dedupe_key is None:
        return False
    found = await session.scalar(
        select(Job.id).where(
            Job.dedupe_key == item.dedupe_key, Job.status == QUEUED, Job.id != item.id
        )
    )
    return found is not None


async def postpone(
    session: AsyncSession, item: Job | InboxEvent, *, worker_id: str, until: datetime, reason: str
) -> None:
    """Puts an item back for later without counting the attempt (it was not tried)."""
    model = type(item)
    if await _newer_waiting(session, item):
        # Only one job per key may wait, and the waiting one does the same work.
        await complete_many(session, Job, [item.id], worker_id=worker_id)
        return
    await session.execute(
        update(model)
        .where(model.id == item.id, model.locked_by == worker_id)
        .values(
            status=QUEUED,
            locked_until=None,
            locked_by=None,
            run_at=until,
            attempts=model.attempts - 1,
            last_error=reason[:2000],
        )
        .execution_options(synchronize_session=False)
    )


async def renew(
    bind: AsyncSession | AsyncConnection,
    model: type[QueueModel],
    ids: list[int],
    *,
    worker_id: str,
    lease_seconds: float,
) -> set[int]:
    """Extends the leases `worker_id` still holds among `ids`; returns those. An item
    missing from the answer was taken over by another worker (its lease had run out) or
    settled meanwhile: this worker must not record an outcome for it."""
    dialect = bind.dialect.name if isinstance(bind, AsyncConnection) else dialect_name(bind)
    result = await bind.execute(
        _renew_statement(model, dialect),
        {
            "ids": ids,
            "worker_id": worker_id,
            "until": utc_now() + timedelta(seconds=lease_seconds),
        },
    )
    return set(result.scalars().all())


@functools.cache
def _renew_statement(model: type[QueueModel], dialect: str) -> Any:
    """Built once per queue and database (every heartbeat renews what a worker holds)."""
    c = cast(Table, model.__table__).c
    return (
        _held_by_worker(model, dialect)
        .values(locked_until=bindparam("until", type_=c.locked_until.type))
        .returning(c.id)
    )


def _held_by_worker(model: type[QueueModel], dialect: str) -> Any:
    """An UPDATE of the items among the list `ids` that worker `worker_id` still runs."""
    table = cast(Table, model.__table__)
    c = table.c
    return update(table).where(
        among(dialect, c.id, "ids"),
        c.locked_by == bindparam("worker_id", type_=c.locked_by.type),
        c.status == RUNNING,
    )


async def release(
    session: AsyncSession, model: type[QueueModel], ids: list[int], *, worker_id: str
) -> int:
    """Hands items this worker holds back to the queue, claimable at once and without
    counting the attempt (a stopping worker cut them off; it was not their fault).

    A job whose `dedupe_key` already has a newer waiting job stays leased until its
    lease runs out: only one job per key may wait, and the newer one does the same work.
    """
    connection = await session.connection()
    result = await connection.execute(
        _release_statement(model, connection.dialect.name),
        {"ids": ids, "worker_id": worker_id},
    )
    return int(result.rowcount)


@functools.cache
def _release_statement(model: type[QueueModel], dialect: str) -> Any:
    """`release`'s statement, on the same condition as completion and renewal."""
    table = cast(Table, model.__table__)
    c = table.c
    statement = _held_by_worker(model, dialect)
    if model is Job:
        waiting = table.alias("waiting")
        statement = statement.where(
            ~exists().where(waiting.c.dedupe_key == c.dedupe_key, waiting.c.status == QUEUED)
        )
    return statement.values(
        status=QUEUED, locked_by=None, locked_until=None, attempts=c.attempts - 1
    )


async def complete_many(
    session: AsyncSession, model: type[QueueModel], ids: list[int], *, worker_id: str
) -> int:
    """Marks items done that this worker still holds; returns how many it did."""
    connection = await session.connection()
    result = await connection.execute(
        _complete_statement(model, connection.dialect.name),
        {"ids": ids, "worker_id": worker_id, "now": utc_now()},
    )
    return int(result.rowcount)


@functools.cache
def _complete_statement(model: type[QueueModel], dialect: str) -> Any:
    """Built once per queue and database (the worker records what finished with every
    claim)."""
    table = cast(Table, model.__table__)
    c = table.c
    now = bindparam("now", type_=c.locked_until.type)
    finished = "finished_at" if model is Job else "processed_at"
    return (
        _held_by_worker(model, dialect)
        .values({"status": DONE, "locked_until": None, "last_error": None, finished: now})
        .values({"updated_at": now} if "updated_at" in c else {})
    )


async def fail(
    session: AsyncSession,
    item: Job | InboxEvent,
    *,
    worker_id: str,
    error: str,
    max_attempts: int,
    backoff: Backoff,
    retry_after: float | None = None,
    permanent: bool = False,
    final_status: str = FAILED,
) -> str:
    """Records a failed attempt: back to the queue after a backoff, or parked as failed.
    Returns the new status."""
    model = type(item)
    give_up = permanent or item.attempts >= max_attempts
    delay = retry_after if retry_after is not None else backoff.delay(item.attempts)
    status = final_status if give_up else QUEUED
    if status == QUEUED and await _newer_waiting(session, item):
        status, error = DONE, f"{error} (a newer job with the same key does this work)"
    values: dict[str, Any] = {
        "status": status,
        "locked_until": None,
        "locked_by": None,
        "last_error": error[:2000],
        "run_at": utc_now() + timedelta(seconds=0 if give_up else delay),
    }
    if status == DONE:
        values["finished_at"] = utc_now()
    await session.execute(
        update(model)
        .where(model.id == item.id, model.locked_by == worker_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return status
