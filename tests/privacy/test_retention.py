"""The daily retention job: messages older than an account's retention_days go, with their
drafts and replies; handled raw webhook bodies go after the shortest retention (30 days
at most)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import time_machine
from sqlalchemy import select

from app.core.clock import utc_now
from app.core.db import unit_of_work
from app.models import Draft, InboxEvent, Job, Message, OutboundMessage
from app.privacy.jobs import purge_expired
from app.registry import build_worker
from app.worker.kinds import JobKind
from tests.harness import Harness
from tests.privacy.helpers import connect_account, follower_writes

IG_A, IG_B = "17841400000000031", "17841400000000032"


async def _rows(harness: Harness, model: Any, **filters: Any) -> list[Any]:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        return list((await session.scalars(select(model).filter_by(**filters))).all())


async def _texts(harness: Harness, account_id: int) -> list[str | None]:
    return sorted(
        m.text for m in await _rows(harness, Message, account_id=account_id, direction="in")
    )


async def test_daily_job_purges_what_is_older_than_the_account_retention(
    harness: Harness,
) -> None:
    a = await connect_account(harness, IG_A, meta_user_id="1")
    b = await connect_account(harness, IG_B, meta_user_id="2", name="Max Cooks")
    patched = await harness.api("PATCH", f"/api/v1/accounts/{a}", json={"retention_days": 7})
    assert patched.status_code == 200
    await harness.set_policy(a, mode="autopilot", min_confidence=0.0)
    await harness.add_serum(a)
    await follower_writes(harness, IG_A, "IGSID-1", "Hi! Code for the vitamin C serum?")
    await follower_writes(harness, IG_B, "IGSID-2", "old message to B")
    await harness.run_worker()
    assert await _rows(harness, OutboundMessage, account_id=a)
    start = utc_now()

    with time_machine.travel(start + timedelta(days=8), tick=True):
        await follower_writes(harness, IG_A, "IGSID-1", "a recent message")
        worker = build_worker(harness.runtime)
        await worker.run_until_idle()
        await worker.schedule_periodic(force=True)  # the daily run is due in a day
        [scheduled] = await _rows(harness, Job, kind=JobKind.PURGE_EXPIRED, status="queued")
        assert scheduled.run_at > utc_now() + timedelta(hours=23)
    with time_machine.travel(start + timedelta(days=9, minutes=1), tick=True):
        await worker.run_until_idle()

    assert await _texts(harness, a) == ["a recent message"]
    assert await _texts(harness, b) == ["old message to B"]  # no retention set on B
    drafts = await _rows(harness, Draft, account_id=a)
    assert drafts
    assert all(d.created_at > start + timedelta(days=7) for d in drafts)
    outbound = await _rows(harness, OutboundMessage, account_id=a)
    assert all(o.created_at > start + timedelta(days=7) for o in outbound)
    # Raw bodies follow the shortest retention (7 days), whichever account they concern.
    bodies = [e.body for e in await _rows(harness, InboxEvent)]
    assert len(bodies) == 1
    assert "a recent message" in bodies[0]
    [done] = await _rows(harness, Job, id=scheduled.id)
    assert done.status == "done"


async def test_raw_bodies_are_purged_after_30_days_without_any_retention(
    harness: Harness,
) -> None:
    a = await connect_account(harness, IG_A, meta_user_id="1")
    await follower_writes(harness, IG_A, "IGSID-1", "kept as a message")
    await harness.run_worker()
    # Not handled yet: never purged, however old.
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        session.add(
            InboxEvent(
                received_at=utc_now(),
                body="{}",
                body_sha256="1" * 64,
                status="queued",
                run_at=utc_now() + timedelta(days=365),
            )
        )
    start = utc_now()

    with time_machine.travel(start + timedelta(days=29), tick=True):
        await purge_expired(harness.runtime, _job())
    assert len(await _rows(harness, InboxEvent)) == 2
    with time_machine.travel(start + timedelta(days=31), tick=True):
        await purge_expired(harness.runtime, _job())

    [left] = await _rows(harness, InboxEvent)
    assert left.status == "queued"
    assert await _texts(harness, a) == ["kept as a message"]


def _job() -> Job:
    return Job(kind=JobKind.PURGE_EXPIRED, payload={}, status="running")
