"""The backlog as the database sees it, read at scrape time (two aggregate queries).

The figures are database-wide: every web process scraped reports the same numbers, so
aggregate them with `max`, not `sum`, across instances.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.core.clock import as_utc, utc_now
from app.models import UNPROCESSED, InboxEvent, InboxStatus, Job

# The job queue's statuses (app.worker.queue): waiting, leased, parked after the last attempt.
_WAITING, _LEASED, _FAILED = "queued", "running", "failed"


@dataclass(slots=True)
class Backlog:
    inbox_unprocessed: int = 0
    inbox_oldest_received_at: datetime | None = None
    inbox_parked: dict[str, int] = field(default_factory=dict)  # status -> count
    jobs_due: dict[str, int] = field(default_factory=dict)  # kind -> count
    jobs_oldest_due_at: dict[str, datetime] = field(default_factory=dict)
    jobs_running: dict[str, int] = field(default_factory=dict)
    jobs_failed: dict[str, int] = field(default_factory=dict)
    read_at: datetime = field(default_factory=utc_now)


async def read_backlog(engine: AsyncEngine, *, wait_seconds: float) -> Backlog | None:
    """The current backlog, or None when the database did not answer within
    `wait_seconds` (down, unreachable, or locked)."""
    try:
        async with asyncio.timeout(wait_seconds), engine.connect() as connection:
            return await _read(connection)
    except Exception:
        return None


async def _read(connection: AsyncConnection) -> Backlog:
    now = utc_now()
    backlog = Backlog(read_at=now)
    inbox = await connection.execute(
        select(InboxEvent.status, func.count(), func.min(InboxEvent.received_at))
        .where(InboxEvent.status.in_((*UNPROCESSED, InboxStatus.FAILED, InboxStatus.UNPROCESSABLE)))
        .group_by(InboxEvent.status)
    )
    oldest: list[datetime] = []
    for status, count, first_received in inbox.all():
        if status in UNPROCESSED:
            backlog.inbox_unprocessed += int(count)
            if first_received is not None:
                oldest.append(_as_datetime(first_received))
        else:
            backlog.inbox_parked[status] = int(count)
    backlog.inbox_oldest_received_at = min(oldest, default=None)

    due = Job.run_at <= now
    jobs = await connection.execute(
        select(
            Job.kind,
            Job.status,
            func.count(),
            func.sum(case((due, 1), else_=0)),
            func.min(case((due, Job.run_at), else_=None)),
        )
        .where(Job.status.in_((_WAITING, _LEASED, _FAILED)))
        .group_by(Job.kind, Job.status)
    )
    for kind, status, count, due_count, first_due in jobs.all():
        backlog.jobs_due.setdefault(kind, 0)
        if status == _WAITING:
            backlog.jobs_due[kind] = int(due_count or 0)
            if first_due is not None:
                backlog.jobs_oldest_due_at[kind] = _as_datetime(first_due)
        elif status == _LEASED:
            backlog.jobs_running[kind] = int(count)
        else:
            backlog.jobs_failed[kind] = int(count)
    return backlog


def _as_datetime(value: datetime | str) -> datetime:
    """`min(CASE ...)` loses the column type: SQLite hands back its stored text."""
    return as_utc(value if isinstance(value, datetime) else datetime.fromisoformat(value))
