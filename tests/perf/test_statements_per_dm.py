"""How many SQL statements and transactions the worker spends on one DM, counted through
SQLAlchemy's events on both databases: a change that adds round trips fails here, not in a
benchmark nobody ran (issue 15 sets the goal at 20 statements and 5 transactions)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.harness import Harness, text_event

IG_ID = "17841400000000001"
DMS = 20


@dataclass
class Counts:
    statements: int = 0
    transactions: int = 0


@contextmanager
def counting(engine: AsyncEngine) -> Iterator[Counts]:
    counts = Counts()

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.strip().upper() in {"BEGIN", "BEGIN IMMEDIATE"}:
            return  # SQLite's explicit BEGIN: counted as a transaction below, not a statement
        counts.statements += 1

    def on_begin(_conn: Any) -> None:
        counts.transactions += 1

    sync = engine.sync_engine
    event.listen(sync, "before_cursor_execute", on_execute)
    event.listen(sync, "begin", on_begin)
    try:
        yield counts
    finally:
        event.remove(sync, "before_cursor_execute", on_execute)
        event.remove(sync, "begin", on_begin)


async def test_the_worker_spends_a_bounded_number_of_round_trips_per_dm(harness: Harness) -> None:
    account = await harness.create_account(external_id=IG_ID)
    await harness.set_policy(account["id"], mode="autopilot", min_confidence=0.6)
    await harness.add_serum(account["id"])
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
    per_dm = counts.statements / DMS, counts.transactions / DMS
    # Measured at 1a8716f: 47-48 statements and 5.7 transactions per DM on both databases.
    # A ceiling with a little headroom; issue 15's goal is 20 and 5.
    assert per_dm[0] <= STATEMENT_CEILING, per_dm
    assert per_dm[1] <= TRANSACTION_CEILING, per_dm


STATEMENT_CEILING = 56.0
TRANSACTION_CEILING = 6.5
