"""SQL of the raw webhook inbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.db import insert_ignore
from app.models import InboxEvent


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
            "status": "queued",
            "run_at": received_at,
            "attempts": 0,
        }
        for body, sha256 in {sha: (body, sha) for body, sha in bodies}.values()
    ]
    statement = insert_ignore(connection, InboxEvent.__table__, ["body_sha256"])
    await connection.execute(statement, rows)
