"""SQL of the raw webhook inbox."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Dialect, Table, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.core.db import insert_ignore
from app.models import InboxEvent, InboxStatus


async def insert_raw_events(
    connection: AsyncConnection, bodies: Sequence[tuple[str, str]], *, received_at: datetime
) -> None:
    """Inserts (body, sha256) pairs; a body already stored (Meta redelivered it) is skipped."""
    if not bodies:
        return
    rows = [
        {
            "body": body,
            "body_sha256": sha256,
            "received_at": received_at,
            "status": InboxStatus.QUEUED,
            "run_at": received_at,
            "attempts": 0,
        }
        for body, sha256 in {sha: (body, sha) for body, sha in bodies}.values()
    ]
    statement = insert_ignore(connection, InboxEvent.__table__, ["body_sha256"])
    await connection.execute(statement, rows)


# PostgreSQL: the batch and the workers' wake-up in one statement, run outside an explicit
# transaction (a single statement commits by itself, the NOTIFY with it): one round trip
# per batch instead of four (BEGIN, INSERT, NOTIFY, COMMIT), and no SQLAlchemy statement
# to build on the acknowledgement's hot path.
_STORE_AND_NOTIFY = """
WITH stored AS (
    INSERT INTO inbox_events (body, body_sha256, received_at, status, run_at, attempts)
    SELECT body, sha256, $3, 'queued', $3, 0 FROM unnest($1::text[], $2::text[]) AS b(body, sha256)
    ON CONFLICT (body_sha256) DO NOTHING
    RETURNING 1
)
SELECT pg_notify($4, '')
"""


async def store_and_notify(
    raw: Any, bodies: Sequence[tuple[str, str]], *, received_at: datetime, channel: str
) -> None:
    """`insert_raw_events` and a NOTIFY on `channel`, committed as one statement on an
    asyncpg connection (`raw`) that is not in a transaction."""
    unique = {sha: body for body, sha in bodies}
    await raw.execute(_STORE_AND_NOTIFY, list(unique.values()), list(unique), received_at, channel)


async def store_in_one_statement(
    raw: Any, bodies: Sequence[tuple[str, str]], *, received_at: datetime, dialect: Dialect
) -> None:
    """`insert_raw_events` for SQLite, on an aiosqlite connection (`raw`) in autocommit
    mode: one multi-row INSERT commits by itself, so the batch costs one trip to
    aiosqlite's thread (and one to close the cursor) instead of BEGIN IMMEDIATE, the
    insert and COMMIT through SQLAlchemy, each a trip of its own. SQLite takes one writer
    at a time anyway: the statement waits for the lock like a BEGIN IMMEDIATE would."""
    unique = {sha: body for body, sha in bodies}
    column = cast(Table, InboxEvent.__table__).c.received_at
    when = column.type.dialect_impl(dialect).bind_processor(dialect)
    stored_at = received_at if when is None else when(received_at)
    rows = ", ".join(["(?, ?, ?, 'queued', ?, 0)"] * len(unique))
    cursor = await raw.execute(
        "INSERT INTO inbox_events (body, body_sha256, received_at, status, run_at, attempts) "
        f"VALUES {rows} ON CONFLICT (body_sha256) DO NOTHING",
        [value for sha, body in unique.items() for value in (body, sha, stored_at, stored_at)],
    )
    await cursor.close()


_CONTENT_KEYS = ("text", "attachments", "quick_reply", "reply_to")


def _scrub_item(item: Any, mid: str) -> bool:
    """Removes the follower's content for `mid` from one messaging item; True if it did."""
    if not isinstance(item, dict):
        return False
    changed = False
    for key in ("message", "message_edit"):
        part = item.get(key)
        if isinstance(part, dict) and part.get("mid") == mid:
            for content in _CONTENT_KEYS:
                changed |= part.pop(content, None) is not None
    value = item.get("value")  # dashboard-style changes[] wrap a messaging item
    return _scrub_item(value, mid) or changed


def scrub_body(body: str, mid: str) -> str | None:
    """The body without the content of message `mid`, or None if it held none."""
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    changed = False
    for entry in payload.get("entry", []) if isinstance(payload, dict) else []:
        for key in ("messaging", "standby", "changes"):
            for item in entry.get(key, []) if isinstance(entry, dict) else []:
                changed |= _scrub_item(item, mid)
    return json.dumps(payload, ensure_ascii=False) if changed else None


async def scrub_message(session: AsyncSession, mid: str) -> int:
    """A follower unsent a message: its text leaves the stored webhook bodies too. The
    body's hash stays, so a redelivery is still recognised. Returns bodies changed."""
    events = await session.scalars(select(InboxEvent).where(InboxEvent.body.contains(mid)))
    changed = 0
    for event in events:
        scrubbed = scrub_body(event.body, mid)
        if scrubbed is not None:
            event.body = scrubbed
            changed += 1
    return changed
