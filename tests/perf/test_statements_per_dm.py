"""How many SQL statements and transactions the worker spends on one DM, counted through
SQLAlchemy's events on both databases: a change that adds round trips fails here, not in a
benchmark nobody ran (issue 15 sets the goal at 20 statements and 5 transactions).

Each statement is charged to the step that ran it (the worker binds the item's kind to
its log context): `event` (normalising a webhook body), a job kind (`draft_reply`,
`send_reply`...), or `worker` (claiming and completing). A failure prints the breakdown;
so does `pytest -s tests/perf/test_statements_per_dm.py`.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
import structlog
import time_machine
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.clock import utc_now
from app.core.db import READER
from app.drafting.catalog_index import SETTLE
from app.registry import build_worker
from tests.harness import Harness, text_event

IG_ID = "17841400000000001"
DMS = 20


@dataclass
class Counts:
    statements: Counter[str] = field(default_factory=Counter)
    transactions: Counter[str] = field(default_factory=Counter)

    def table(self, per: int) -> str:
        steps = sorted(set(self.statements) | set(self.transactions))
        rows = [
            f"{step:>14}: {self.statements[step] / per:5.2f} statements, "
            f"{self.transactions[step] / per:4.2f} transactions"
            for step in steps
        ]
        return "per DM\n" + "\n".join(rows)


def _step() -> str:
    bound = structlog.contextvars.get_contextvars()
    if "job_kind" in bound:
        return str(bound["job_kind"])
    # A batch of inbox events binds `event_ids`, each of its events `event_id` too.
    return "event" if "event_id" in bound or "event_ids" in bound else "worker"


@contextmanager
def counting(engine: AsyncEngine) -> Iterator[Counts]:
    counts = Counts()

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.strip().upper() in {"BEGIN", "BEGIN IMMEDIATE"}:
            return  # SQLite's explicit BEGIN: counted as a transaction below, not a statement
        counts.statements[_step()] += 1

    def on_begin(conn: Any) -> None:
        if conn.get_execution_options().get(READER):
            return  # a reader's session (`create_reader`): no transaction on the database
        counts.transactions[_step()] += 1

    sync = engine.sync_engine
    event.listen(sync, "before_cursor_execute", on_execute)
    event.listen(sync, "begin", on_begin)
    try:
        yield counts
    finally:
        event.remove(sync, "before_cursor_execute", on_execute)
        event.remove(sync, "begin", on_begin)


@pytest.mark.parametrize("catalog", ["fresh", "settled"])
async def test_the_worker_spends_a_bounded_number_of_round_trips_per_dm(
    harness: Harness, catalog: str
) -> None:
    """`fresh`: the DMs come right after the catalog's import, when a worker does not yet
    trust its in-memory copy and each draft reads its products and their links (two
    statements more). `settled`: a minute later (`SETTLE`), as in steady operation."""
    account = await harness.create_account(external_id=IG_ID)
    await harness.set_policy(account["id"], mode="autopilot", min_confidence=0.6)
    await harness.add_serum(account["id"])
    later = timedelta(0) if catalog == "fresh" else SETTLE + timedelta(seconds=1)
    with time_machine.travel(utc_now() + later, tick=True):
        for n in range(DMS):
            response = await harness.post_webhook(
                text_event(
                    IG_ID, f"IGSID-{n}", "Hi! What's the code for the Vitamin C Serum?", mid=f"m{n}"
                )
            )
            assert response.status_code == 200

        with counting(harness.runtime.engine) as counts:
            await harness.run_worker()

    assert len(harness.graph.sent) == DMS
    statements = sum(counts.statements.values()) / DMS
    transactions = sum(counts.transactions.values()) / DMS
    breakdown = f"{statements:.2f} statements, {transactions:.2f} transactions; {counts.table(DMS)}"
    print(breakdown)  # noqa: T201 (shown with -s: the breakdown is the point of this test)
    dialect = harness.runtime.engine.dialect.name
    assert statements <= STATEMENT_CEILING[catalog][dialect], breakdown
    assert transactions <= TRANSACTION_CEILING, breakdown
    # Normalising the webhook bodies: a batch shares its transaction, account lookup and
    # job INSERT; each new follower's DM costs its contact, conversation and message.
    assert counts.statements["event"] / DMS <= EVENT_STATEMENT_CEILING, breakdown
    assert counts.transactions["event"] / DMS <= EVENT_TRANSACTION_CEILING, breakdown


# Measured at 1a8716f: 47-48 statements and 5.7 transactions per DM on both databases;
# at 6d6b8b6: 51.25 (SQLite) and 51.9 (PostgreSQL). Issue 15's goal is 20 and 5. Now
# 19.05 statements on PostgreSQL, 24.05 on SQLite (it has no data-modifying CTEs, so the
# send job writes each table in a statement of its own), and 3.8 transactions on both:
# the draft job reads its context without one (`create_reader`); it was 4.8.
# With the catalog settled (the in-memory catalog trusted, no product reads): 17.05 and
# 22.05. Transactions 3.1 once the worker's completions and claims ran each on their own
# (`each_on_its_own`), without a transaction around them. On PostgreSQL 16.05 fresh and
# 14.05 settled once an automatic reply's draft, outbound row, send job and audit row
# went in one statement (`app.outbox.auto_reply`); 13.05 settled once the reply's new
# tracked link went in with them (fresh, the draft has not read the conversation's links,
# and the link is still inserted on its own).
STATEMENT_CEILING = {
    "fresh": {"postgresql": 17.0, "sqlite": 25.0},
    "settled": {"postgresql": 14.0, "sqlite": 23.0},
}
TRANSACTION_CEILING = 3.25
# The event step at perf-ingest: 3.2 statements and 0.1 transactions per DM (a batch of
# 16 events, then one of 4) on both databases; it was 12 and 1.
EVENT_STATEMENT_CEILING = 4.0
EVENT_TRANSACTION_CEILING = 0.25


async def test_one_dm_at_a_time_costs_little_more_than_in_a_burst(harness: Harness) -> None:
    """DMs arriving one by one (the usual day), with the worker's real loop running:
    nothing is shared by a batch, and its claims after every finished item count in full
    (its idle polls too, one per WORKER_POLL_SECONDS)."""
    account = await harness.create_account(external_id=IG_ID)
    await harness.set_policy(account["id"], mode="autopilot", min_confidence=0.6)
    await harness.add_serum(account["id"])
    worker = build_worker(harness.runtime)
    await worker.schedule_periodic(force=True)  # its first check is not a DM's cost
    stop = asyncio.Event()
    with counting(harness.runtime.engine) as counts:
        loop = asyncio.create_task(worker.run_forever(stop))
        try:
            for n in range(SINGLE_DMS):
                response = await harness.post_webhook(
                    text_event(IG_ID, f"IGSID-{n}", "What's the code for the Vitamin C Serum?")
                )
                assert response.status_code == 200
                worker.wake()  # what the web process's writer does after a commit
                await _until(lambda: len(harness.graph.sent) > n)  # noqa: B023 (awaited at once)
        finally:
            stop.set()
            await loop

    statements = sum(counts.statements.values()) / SINGLE_DMS
    transactions = sum(counts.transactions.values()) / SINGLE_DMS
    breakdown = f"{statements:.2f} statements, {transactions:.2f} transactions; "
    breakdown += counts.table(SINGLE_DMS)
    print(breakdown)  # noqa: T201 (shown with -s: the breakdown is the point of this test)
    assert statements <= SINGLE_STATEMENT_CEILING, breakdown
    assert transactions <= SINGLE_TRANSACTION_CEILING, breakdown


async def _until(done: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        while not done():  # noqa: ASYNC110 (the fake Graph API records; it signals nothing)
            await asyncio.sleep(0.01)


SINGLE_DMS = 5
# Measured: 32.8 statements and 10 transactions per DM (PostgreSQL), 36.8 and 10 (SQLite),
# a third of them the worker's claims; 30 and 35 once a slot freed by a finished item
# claimed jobs only (webhook bodies wait for a wake-up or the poll); 7.6-8 transactions
# once the draft job read its context without one; 4 once the worker's completions and
# claims ran without one (the event batch, the draft, the send's two; 4.2 was seen once
# on a loaded machine).
SINGLE_STATEMENT_CEILING = 40.0
SINGLE_TRANSACTION_CEILING = 5.0
