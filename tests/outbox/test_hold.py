"""Held replies: an approval waits UNDO_SECONDS on the server, an automatic reply the
account's hold_auto_seconds; Undo and Cancel stop them until the send job has them, and
never both. Real worker, both databases, Meta's Send API faked at the HTTP boundary; the
clock is moved with time_machine, never slept on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import time_machine
from sqlalchemy import select

from app.core.clock import utc_now
from app.core.db import unit_of_work
from app.models import AuditEntry, Draft, OutboundMessage
from app.outbox import hold
from app.registry import build_worker
from tests.harness import Harness, make_settings, running_app, text_event
from tests.users.web import sign_in

IG_ID = "17841400000000001"
UNDO = 8
ASK = "Hi! What's the code for the Vitamin C Serum?"


@pytest.fixture
async def held(database_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    settings = make_settings(database_url, str(tmp_path), UNDO_SECONDS=UNDO)
    async with running_app(settings) as harness:
        yield harness


async def _pending_ids(harness: Harness) -> set[int]:
    queue = (await harness.api("GET", "/api/v1/drafts", params={"status": "pending"})).json()
    return {int(d["id"]) for d in queue}


async def _pending(harness: Harness, sender: str = "IGSID-1") -> int:
    """A draft waiting for review (copilot) for the follower `sender`."""
    before = await _pending_ids(harness)
    await harness.post_webhook(text_event(IG_ID, sender, ASK))
    await harness.run_worker()
    [draft_id] = await _pending_ids(harness) - before
    return draft_id


async def _copilot(harness: Harness) -> dict[str, Any]:
    account = await harness.create_account(external_id=IG_ID)
    await harness.add_serum(account["id"])
    return account


async def _audit(harness: Harness, action: str) -> list[AuditEntry]:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        rows = await session.scalars(select(AuditEntry).where(AuditEntry.action == action))
        return list(rows.all())


async def _draft(harness: Harness, draft_id: int) -> dict[str, Any]:
    response = await harness.api("GET", f"/api/v1/drafts/{draft_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_an_approval_waits_for_the_undo_time_then_goes(held: Harness) -> None:
    await _copilot(held)
    draft_id = await _pending(held)
    start = utc_now()
    with time_machine.travel(start, tick=False):
        approved = await held.api("POST", f"/api/v1/drafts/{draft_id}/approve", json={})
        assert approved.status_code == 200, approved.text
        assert approved.json()["hold_until"] is not None
        await held.run_worker()
        assert held.graph.sent == []
    with time_machine.travel(start + timedelta(seconds=UNDO - 1), tick=False):
        await held.run_worker()
        assert held.graph.sent == []
    with time_machine.travel(start + timedelta(seconds=UNDO + 1), tick=False):
        await held.run_worker()
    assert len(held.graph.sent) == 1
    assert (await _draft(held, draft_id))["status"] == "sent"


async def test_undo_within_the_hold_puts_the_draft_back_and_sends_nothing(held: Harness) -> None:
    await _copilot(held)
    draft_id = await _pending(held)
    start = utc_now()
    with time_machine.travel(start, tick=False):
        await held.api("POST", f"/api/v1/drafts/{draft_id}/approve", json={"text": "Edited!"})
    with time_machine.travel(start + timedelta(seconds=UNDO - 2), tick=False):
        undone = await held.api("POST", f"/api/v1/drafts/{draft_id}/undo")
        assert undone.status_code == 200, undone.text
        body = undone.json()
        assert (body["status"], body["final_text"], body["decided_by_user_id"]) == (
            "pending",
            None,
            None,
        )
        again = await held.api("POST", f"/api/v1/drafts/{draft_id}/undo")
        assert again.status_code == 409
    with time_machine.travel(start + timedelta(seconds=UNDO + 30), tick=False):
        await held.run_worker()
    assert held.graph.sent == []
    queue = (await held.api("GET", "/api/v1/drafts", params={"status": "pending"})).json()
    assert [d["id"] for d in queue] == [draft_id]
    [entry] = await _audit(held, "draft.approval_undone")
    assert entry.entity_id == draft_id
    assert entry.details["edited"] is True

    # Approved again, it goes out once, with the new decision's text.
    await held.api("POST", f"/api/v1/drafts/{draft_id}/approve", json={"text": "Second go"})
    with time_machine.travel(utc_now() + timedelta(seconds=UNDO + 1), tick=False):
        await held.run_worker()
    assert [s.text for s in held.graph.sent] == ["Second go"]


async def test_undo_after_the_hold_is_refused_sent_or_not(held: Harness) -> None:
    await _copilot(held)
    first = await _pending(held, "IGSID-1")
    second = await _pending(held, "IGSID-2")
    start = utc_now()
    with time_machine.travel(start, tick=False):
        for draft_id in (first, second):
            await held.api("POST", f"/api/v1/drafts/{draft_id}/approve", json={})
    with time_machine.travel(start + timedelta(seconds=UNDO + 1), tick=False):
        # The hold is over but no worker has run: the reply is on its way all the same.
        late = await held.api("POST", f"/api/v1/drafts/{first}/undo")
        assert late.status_code == 409
        assert "already sent or on its way" in late.json()["detail"]
        await held.run_worker()
        sent = await held.api("POST", f"/api/v1/drafts/{second}/undo")
        assert sent.status_code == 409
    assert len(held.graph.sent) == 2
    assert await _audit(held, "draft.approval_undone") == []


async def test_undo_of_a_pending_or_unknown_draft_is_refused(held: Harness) -> None:
    await _copilot(held)
    draft_id = await _pending(held)
    assert (await held.api("POST", f"/api/v1/drafts/{draft_id}/undo")).status_code == 409
    assert (await held.api("POST", "/api/v1/drafts/999999/undo")).status_code == 404
    assert (await held.api("POST", "/api/v1/drafts/999999/cancel")).status_code == 404


async def _autopilot(harness: Harness, hold_seconds: int) -> dict[str, Any]:
    account = await _copilot(harness)
    await harness.set_policy(
        account["id"], mode="autopilot", min_confidence=0.6, hold_auto_seconds=hold_seconds
    )
    return account


async def test_a_held_automatic_reply_is_cancelled_and_never_sent(held: Harness) -> None:
    await _autopilot(held, 120)
    start = utc_now()
    with time_machine.travel(start, tick=False):
        await held.post_webhook(text_event(IG_ID, "IGSID-1", ASK))
        await held.run_worker()
        assert held.graph.sent == []
        [draft] = (await held.api("GET", "/api/v1/drafts", params={"status": "approved"})).json()
        assert draft["decision"] == "auto"
        assert draft["hold_until"] is not None
    with time_machine.travel(start + timedelta(seconds=100), tick=False):
        cancelled = await held.api("POST", f"/api/v1/drafts/{draft['id']}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        assert (cancelled.json()["status"], cancelled.json()["reject_reason"]) == (
            "rejected",
            "cancelled",
        )
        twice = await held.api("POST", f"/api/v1/drafts/{draft['id']}/cancel")
        assert twice.status_code == 409
    with time_machine.travel(start + timedelta(seconds=600), tick=False):
        await held.run_worker()
    assert held.graph.sent == []
    async with unit_of_work(held.runtime.sessionmaker) as session:
        outbound = await session.scalar(select(OutboundMessage))
        assert outbound is not None
        assert outbound.status == "cancelled"
    [entry] = await _audit(held, "draft.cancelled")
    assert entry.entity_id == draft["id"]


async def test_a_held_automatic_reply_goes_after_its_hold(held: Harness) -> None:
    await _autopilot(held, 30)
    start = utc_now()
    with time_machine.travel(start, tick=False):
        await held.post_webhook(text_event(IG_ID, "IGSID-1", ASK))
        await held.run_worker()
    with time_machine.travel(start + timedelta(seconds=29), tick=False):
        await held.run_worker()
        assert held.graph.sent == []
    with time_machine.travel(start + timedelta(seconds=31), tick=False):
        await held.run_worker()
    assert len(held.graph.sent) == 1


async def test_cancel_of_a_sent_reply_is_refused(held: Harness) -> None:
    await _autopilot(held, 0)
    await held.post_webhook(text_event(IG_ID, "IGSID-1", ASK))
    await held.run_worker()
    [draft] = (await held.api("GET", "/api/v1/drafts", params={"status": "sent"})).json()

    refused = await held.api("POST", f"/api/v1/drafts/{draft['id']}/cancel")

    assert refused.status_code == 409
    assert "sent" in refused.json()["detail"]
    assert (await _draft(held, draft["id"]))["status"] == "sent"


async def test_cancel_of_a_waiting_draft_rejects_it(held: Harness) -> None:
    await _copilot(held)
    draft_id = await _pending(held)
    cancelled = await held.api("POST", f"/api/v1/drafts/{draft_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["reject_reason"] == "cancelled"
    await held.run_worker()
    assert held.graph.sent == []


RACES = 6


async def test_cancel_racing_the_send_job_never_both(held: Harness) -> None:
    """After the hold, Cancel and the worker go at once: each reply is either sent or
    cancelled, never both, never neither."""
    await _autopilot(held, 5)
    start = utc_now()
    with time_machine.travel(start, tick=False):
        for n in range(RACES):
            await held.post_webhook(text_event(IG_ID, f"IGSID-R{n}", ASK))
        await held.run_worker()
    drafts = (await held.api("GET", "/api/v1/drafts", params={"status": "approved"})).json()
    assert len(drafts) == RACES
    with time_machine.travel(start + timedelta(seconds=6), tick=True):
        results = await asyncio.gather(
            build_worker(held.runtime).run_until_idle(),
            *(held.api("POST", f"/api/v1/drafts/{d['id']}/cancel") for d in drafts),
        )
        await held.run_worker()
    responses = [r for r in results[1:] if isinstance(r, httpx.Response)]
    cancels = {d["id"]: r.status_code for d, r in zip(drafts, responses, strict=True)}
    sent_to = {s.recipient_id for s in held.graph.sent}
    for draft in drafts:
        status = (await _draft(held, draft["id"]))["status"]
        assert cancels[draft["id"]] in (200, 409)
        if cancels[draft["id"]] == 200:
            assert status == "rejected"
        else:
            assert status == "sent"
    assert len(sent_to) == sum(1 for code in cancels.values() if code == 409)


async def test_undo_racing_the_send_job_never_both(held: Harness) -> None:
    """A web process whose clock lags the worker's: Undo still thinks the reply is held
    while the worker finds its hold over. The outbound row's status decides: one wins."""
    await _copilot(held)
    ids = [await _pending(held, f"IGSID-U{n}") for n in range(RACES)]
    start = utc_now()
    with time_machine.travel(start, tick=False):
        for draft_id in ids:
            await held.api("POST", f"/api/v1/drafts/{draft_id}/approve", json={})

    async def undo(draft_id: int) -> bool:
        async with unit_of_work(held.runtime.sessionmaker) as session:
            return await hold.take_back(session, draft_id, now=start)

    with time_machine.travel(start + timedelta(seconds=UNDO + 1), tick=True):
        results = await asyncio.gather(
            build_worker(held.runtime).run_until_idle(), *(undo(draft_id) for draft_id in ids)
        )
        await held.run_worker()
    taken_back = [draft_id for draft_id, won in zip(ids, results[1:], strict=True) if won]
    async with unit_of_work(held.runtime.sessionmaker) as session:
        rows = (await session.scalars(select(OutboundMessage))).all()
        sent = {row.draft_id for row in rows if row.status == "sent"}
        drafts = {d.id: d.status for d in (await session.scalars(select(Draft))).all()}
    assert sent.isdisjoint(taken_back)
    assert sent | set(taken_back) == set(ids)
    assert len(held.graph.sent) == len(sent)
    assert all(i is not None and drafts[i] == "sent" for i in sent)


async def test_a_bulk_approval_can_be_undone_from_the_strip_after_a_reload(held: Harness) -> None:
    """Approvals of a group or a selection are held like any other: after the page is
    reloaded, the approver's own held replies are in the "about to send" strip with Undo,
    which puts the draft back in the queue."""
    await _copilot(held)
    first, second = await _pending(held, "IGSID-1"), await _pending(held, "IGSID-2")
    csrf = await sign_in(held.client)
    decided = await held.client.post(
        "/queue/bulk",
        data={"action": "approve", "ids": f"{first},{second}", "csrf_token": csrf},
        headers={"HX-Request": "true"},
    )
    assert decided.status_code == 200, decided.text
    page = (await held.client.get("/queue")).text  # a reload
    assert f'action="/queue/{first}/undo"' in page
    assert f'action="/queue/{second}/undo"' in page
    assert "Undo your approval" in page
    undone = await held.client.post(f"/queue/{first}/undo", data={"csrf_token": csrf})
    assert undone.status_code == 303
    assert undone.headers["location"] == f"/queue#draft-{first}"
    assert (await _draft(held, first))["status"] == "pending"
    assert (await _draft(held, second))["status"] == "approved"
    page = (await held.client.get("/queue")).text
    assert f'action="/queue/{first}/undo"' not in page
    assert f'action="/queue/{second}/undo"' in page
    # Past the hold the second one went: nothing left to undo in the strip.
    with time_machine.travel(utc_now() + timedelta(seconds=UNDO + 1), tick=False):
        await held.run_worker()
        page = (await held.client.get("/queue")).text
    assert f'action="/queue/{second}/undo"' not in page
    assert (await _draft(held, second))["status"] == "sent"
