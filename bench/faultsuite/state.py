"""The final state, read once the run has drained: database rows of this run's followers
and the fakes' records, in the shape `invariants` checks."""

from __future__ import annotations

from typing import cast

import httpx

from bench.faultsuite.invariants import DraftRow, FinalState, JobCount, OutboundRow
from bench.faultsuite.model import PERIODIC_PREFIX, Run
from bench.faultsuite.processes import db_connect


async def final_state(r: Run) -> FinalState:
    conn = await db_connect(r)
    try:
        messages = await conn.fetch(
            "SELECT mid, count(*) AS n FROM messages WHERE direction = 'in' AND mid LIKE $1 "
            "GROUP BY mid",
            f"faults-{r.prefix}-%",
        )
        outbound = await conn.fetch(
            "SELECT ct.external_id AS follower, o.id, o.status, o.error_code, o.attempts, "
            "jsonb_array_length(o.parts) AS parts, jsonb_array_length(o.external_ids) AS sent_ids, "
            "o.last_error, o.created_at, o.updated_at "
            "FROM outbound_messages o JOIN conversations cv ON cv.id = o.conversation_id "
            "JOIN contacts ct ON ct.id = cv.contact_id WHERE ct.external_id LIKE $1",
            r.prefix + "%",
        )
        drafts = await conn.fetch(
            "SELECT ct.external_id AS follower, d.status, d.decision, d.reasons::text AS reasons "
            "FROM drafts d JOIN conversations cv ON cv.id = d.conversation_id "
            "JOIN contacts ct ON ct.id = cv.contact_id WHERE ct.external_id LIKE $1",
            r.prefix + "%",
        )
        out_messages = await conn.fetch(
            "SELECT outbound_id, count(*) AS n FROM messages WHERE direction = 'out' "
            "AND outbound_id IS NOT NULL GROUP BY outbound_id"
        )
        events = await conn.fetch("SELECT status, count(*) AS n FROM inbox_events GROUP BY status")
        jobs = await conn.fetch(
            "SELECT kind, status, count(*) AS n, "
            "count(*) FILTER (WHERE dedupe_key LIKE $1) AS periodic "
            "FROM jobs GROUP BY kind, status ORDER BY kind, status",
            PERIODIC_PREFIX + "%",
        )
    finally:
        await conn.close()
    async with httpx.AsyncClient(timeout=60) as client:
        graph = (
            await client.get(r.url("graph", "/_stats"), params={"prefix": r.prefix, "counts": "1"})
        ).json()
        llm = (await client.get(r.url("llm", "/_stats"))).json()
    return {
        "messages": {row["mid"]: int(row["n"]) for row in messages},
        "outbound": [cast(OutboundRow, dict(row)) for row in outbound],
        "drafts": [cast(DraftRow, dict(row)) for row in drafts],
        "out_messages": {int(row["outbound_id"]): int(row["n"]) for row in out_messages},
        "events": {row["status"]: int(row["n"]) for row in events},
        "jobs": [cast(JobCount, dict(row)) for row in jobs],
        "graph": graph,
        "llm": llm,
    }
