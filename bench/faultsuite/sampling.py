"""Once a second while the load runs: replies at the fake Send API, parked DMs, queues."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import Any

import httpx

from bench.faultsuite.model import PERIODIC_PREFIX, Run
from bench.faultsuite.processes import db_connect

PARKED_SQL = """
SELECT ct.external_id FROM outbound_messages o
  JOIN conversations cv ON cv.id = o.conversation_id JOIN contacts ct ON ct.id = cv.contact_id
 WHERE o.status IN ('failed', 'expired')
UNION
SELECT ct.external_id FROM drafts d
  JOIN conversations cv ON cv.id = d.conversation_id JOIN contacts ct ON ct.id = cv.contact_id
 WHERE d.status = 'pending'
"""


async def queue_depths(conn: Any) -> dict[str, Any]:
    events = await conn.fetchrow(
        "SELECT count(*) AS n, min(received_at) AS oldest FROM inbox_events "
        "WHERE status IN ('queued', 'running')"
    )
    jobs = await conn.fetch(
        "SELECT kind, count(*) AS n FROM jobs WHERE status IN ('queued', 'running') "
        "AND (dedupe_key IS NULL OR dedupe_key NOT LIKE $1) GROUP BY kind",
        PERIODIC_PREFIX + "%",
    )
    oldest = events["oldest"]
    return {
        "events_waiting": int(events["n"]),
        "oldest_event_s": None if oldest is None else round(time.time() - oldest.timestamp(), 1),
        "jobs_waiting": {row["kind"]: int(row["n"]) for row in jobs},
    }


async def sample_forever(r: Run, client: httpx.AsyncClient, stop: asyncio.Event) -> None:
    """Once a second: replies seen by the fake Send API, parked DMs and queue depths."""
    conn: Any = None
    since = 0.0
    depths: dict[str, Any] = {}
    while not stop.is_set():
        db_ok = True
        try:
            answer = await client.get(
                r.url("graph", "/_stats"),
                params={"prefix": r.prefix, "times": "1", "since": str(since)},
            )
            first = answer.json()["first"] or {}
            r.replied.update({k: v for k, v in first.items() if k not in r.replied})
            if first:
                # The fake stamps a send when it arrives and records it when its body is
                # read: look a few seconds back, so a slow one is not skipped.
                since = max(since, max(first.values()) - 5.0)
        except (httpx.HTTPError, ValueError) as exc:
            r.notes.append(f"t={r.rel():.0f}s: fake Send API stats failed: {exc}")
        try:
            if conn is None or conn.is_closed():
                conn = await db_connect(r)
            r.parked = {row[0] for row in await conn.fetch(PARKED_SQL)}
            depths = await queue_depths(conn)
        except Exception:
            db_ok = False
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.terminate()
            conn = None
        now = time.time()
        backlog, oldest = 0, 0.0
        for index in r.acked_order:
            dm = r.dms[index]
            if dm.follower in r.replied or dm.follower in r.parked:
                continue
            backlog += 1
            oldest = max(oldest, now - (dm.acked or now))
        r.samples.append(
            {
                "t": round(r.rel(now), 2),
                "acked": len(r.acked_order),
                "replied": len(r.replied),
                "parked": len(r.parked),
                "backlog": backlog,
                "oldest_waiting_s": round(oldest, 2),
                "db_ok": db_ok,
                **depths,
            }
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
    if conn is not None:
        with contextlib.suppress(Exception):
            await conn.close()


def drained(samples: Sequence[dict[str, Any]]) -> bool:
    """The last three samples: nothing acknowledged is waiting, no event or job is either."""
    last = samples[-3:]
    return len(last) == 3 and all(
        s["db_ok"]
        and s["backlog"] == 0
        and s.get("events_waiting") == 0
        and not any(s.get("jobs_waiting", {}).values())
        for s in last
    )
