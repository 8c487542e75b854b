"""Signed webhook in -> HTTP request to the fake Send API out, through the real worker."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import time_machine
from sqlalchemy import func, select

from app.core.clock import utc_now
from app.core.db import unit_of_work
from app.models import Draft, InboxEvent, Job, Message, OutboundMessage
from app.registry import build_worker
from app.worker import queue
from tests.harness import Harness, echo_event, text_event

IG_ID = "17841400000000001"


async def _autopilot_account(harness: Harness) -> dict[str, Any]:
    account = await harness.create_account(external_id=IG_ID)
    await harness.set_policy(account["id"], mode="autopilot", min_confidence=0.6)
    await harness.add_serum(account["id"])
    return account


async def _drafts(harness: Harness, **filters: Any) -> list[Draft]:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        statement = select(Draft).filter_by(**filters).order_by(Draft.id)
        return list((await session.scalars(statement)).all())


async def test_grounded_answer_is_sent_automatically(harness: Harness) -> None:
    await _autopilot_account(harness)

    response = await harness.post_webhook(
        text_event(IG_ID, "IGSID-1", "Hi! What's the code for the Vitamin C Serum?")
    )
    assert response.status_code == 200
    await harness.run_worker()

    assert len(harness.graph.sent) == 1
    sent = harness.graph.sent[0]
    assert sent.host == "instagram"
    assert sent.recipient_id == "IGSID-1"
    assert sent.messaging_type == "RESPONSE"
    assert sent.text is not None
    assert "LENA15" in sent.text
    [draft] = await _drafts(harness)
    assert (draft.status, draft.decision) == ("sent", "auto")
    assert draft.reasons


async def test_copilot_queues_and_approval_sends_edited_text(harness: Harness) -> None:
    account = await harness.create_account(external_id=IG_ID)
    await harness.add_serum(account["id"])

    await harness.post_webhook(text_event(IG_ID, "IGSID-2", "code for the glow serum pls"))
    await harness.run_worker()
    assert harness.graph.sent == []

    queue = (await harness.api("GET", "/api/v1/drafts", params={"status": "pending"})).json()
    assert len(queue) == 1
    assert "mode is copilot" in queue[0]["reasons"]
    assert queue[0]["messages"][-1]["text"] == "code for the glow serum pls"
    assert [p["discount_code"] for p in queue[0]["products"]] == ["LENA15"]

    draft_id = queue[0]["id"]
    approved = await harness.api(
        "POST", f"/api/v1/drafts/{draft_id}/approve", json={"text": "Hey! LENA15 gives you 15% off"}
    )
    assert approved.status_code == 200, approved.text
    again = await harness.api("POST", f"/api/v1/drafts/{draft_id}/approve", json={})
    assert again.status_code == 409
    await harness.run_worker()

    assert [s.text for s in harness.graph.sent] == ["Hey! LENA15 gives you 15% off"]
    [draft] = await _drafts(harness)
    assert draft.status == "sent"


async def test_echo_is_never_answered_and_pauses_the_conversation(harness: Harness) -> None:
    await _autopilot_account(harness)

    await harness.post_webhook(echo_event(IG_ID, "IGSID-3", "Hi love, sending it now!"))
    await harness.run_worker()
    assert harness.graph.sent == []
    assert await _drafts(harness) == []

    # The influencer answered by hand: the next follower message is drafted, not sent.
    await harness.post_webhook(text_event(IG_ID, "IGSID-3", "what's the serum code?"))
    await harness.run_worker()
    assert harness.graph.sent == []
    [draft] = await _drafts(harness)
    assert draft.status == "pending"
    assert any("human replied recently" in r for r in draft.reasons)


async def test_our_own_echo_does_not_pause(harness: Harness) -> None:
    await _autopilot_account(harness)
    await harness.post_webhook(text_event(IG_ID, "IGSID-4", "Vitamin C Serum code?"))
    await harness.run_worker()
    [sent] = harness.graph.sent
    await harness.post_webhook(
        echo_event(IG_ID, "IGSID-4", sent.text or "", metadata=sent.metadata, mid=sent.message_id)
    )
    await harness.post_webhook(text_event(IG_ID, "IGSID-4", "and the link to the vitamin c serum?"))
    await harness.run_worker()
    drafts = await _drafts(harness)
    assert not any("human replied" in r for r in drafts[-1].reasons)
    assert len(harness.graph.sent) == 2


async def test_same_message_delivered_twice_is_stored_and_answered_once(harness: Harness) -> None:
    await _autopilot_account(harness)
    event = text_event(IG_ID, "IGSID-5", "Vitamin C Serum code please", mid="m_dup_1")
    other_body = dict(event, extra="same mid, different body")

    for payload in (event, event, other_body):
        assert (await harness.post_webhook(payload)).status_code == 200
    await harness.run_worker()

    async with unit_of_work(harness.runtime.sessionmaker) as session:
        assert await session.scalar(select(func.count()).select_from(InboxEvent)) == 2
        assert (
            await session.scalar(
                select(func.count()).select_from(Message).where(Message.mid == "m_dup_1")
            )
            == 1
        )
    assert len(harness.graph.sent) == 1


async def test_burst_of_messages_gets_one_reply(harness: Harness) -> None:
    await _autopilot_account(harness)
    for text in ("hey!!", "quick question", "what was the code for the vitamin c serum?"):
        await harness.post_webhook(text_event(IG_ID, "IGSID-6", text))
    await harness.run_worker()
    assert len(harness.graph.sent) == 1
    assert "LENA15" in (harness.graph.sent[0].text or "")


async def test_worker_killed_between_drafting_and_sending(harness: Harness) -> None:
    await _autopilot_account(harness)
    await harness.post_webhook(text_event(IG_ID, "IGSID-7", "Vitamin C Serum code?"))
    first = build_worker(harness.runtime, concurrency=1)
    await first.run_once()  # stores the message and drafts (the draft job was due at once)
    [draft] = await _drafts(harness)
    assert draft.status == "approved"

    # The worker claims the send job and dies before doing anything with it.
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        claimed = await queue.claim(session, Job, worker_id="doomed", limit=10, lease_seconds=60)
    assert "send_reply" in [j.kind for j in claimed]

    restarted = build_worker(harness.runtime)
    await restarted.run_until_idle()
    assert harness.graph.sent == []  # still leased by the dead worker

    with time_machine.travel(utc_now() + timedelta(seconds=61), tick=True):
        await restarted.run_until_idle()
        await restarted.run_until_idle()
    assert len(harness.graph.sent) == 1
    [draft] = await _drafts(harness)
    assert draft.status == "sent"


async def test_worker_killed_during_the_send_never_sends_twice(harness: Harness) -> None:
    await _autopilot_account(harness)
    await harness.post_webhook(text_event(IG_ID, "IGSID-8", "Vitamin C Serum code?"))
    worker = build_worker(harness.runtime, concurrency=1)
    await worker.run_once()
    # A worker marked the reply `sending` and died during the call to Meta.
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        outbound = await session.scalar(select(OutboundMessage))
        assert outbound is not None
        outbound.status = "sending"
    await worker.run_until_idle()

    assert harness.graph.sent == []
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        outbound = await session.scalar(select(OutboundMessage))
        assert outbound is not None
        assert (outbound.status, outbound.error_code) == ("failed", "outcome_unknown")
    [draft] = await _drafts(harness)
    assert draft.status == "failed"

    # Meta's echo of that send arrives after all: the reply is known to have gone out.
    assert outbound is not None
    await harness.post_webhook(
        echo_event(
            IG_ID,
            "IGSID-8",
            "Your code: LENA15",
            metadata=f"inboxpilot:{outbound.id}",
            mid="m_late_echo",
        )
    )
    await harness.run_worker()
    [draft] = await _drafts(harness)
    assert draft.status == "sent"
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        outbound = await session.scalar(select(OutboundMessage))
        assert outbound is not None
        assert (outbound.status, outbound.external_ids) == ("sent", ["m_late_echo"])
    assert harness.graph.sent == []


async def test_a_draft_approved_after_the_window_closed_is_not_sent(harness: Harness) -> None:
    account = await harness.create_account(external_id=IG_ID)
    await harness.add_serum(account["id"])
    await harness.post_webhook(text_event(IG_ID, "IGSID-9", "serum code?"))
    await harness.run_worker()
    [draft] = await _drafts(harness)
    with time_machine.travel(utc_now() + timedelta(hours=25), tick=True):
        await harness.api("POST", f"/api/v1/drafts/{draft.id}/approve", json={})
        await harness.run_worker()
    assert harness.graph.sent == []
    [draft] = await _drafts(harness)
    assert draft.status == "expired"


async def test_meta_server_error_is_retried_then_sent_once(harness: Harness) -> None:
    await _autopilot_account(harness)
    harness.graph.fail_with_server_error(times=2)
    await harness.post_webhook(text_event(IG_ID, "IGSID-10", "Vitamin C Serum code?"))
    await harness.run_worker()
    assert len(harness.graph.calls) == 3
    assert len(harness.graph.sent) == 1


async def test_invalid_token_marks_account_for_reconnection(harness: Harness) -> None:
    account = await _autopilot_account(harness)
    harness.graph.token_invalid()
    await harness.post_webhook(text_event(IG_ID, "IGSID-11", "Vitamin C Serum code?"))
    await harness.run_worker()
    assert harness.graph.sent == []
    state = (await harness.api("GET", f"/api/v1/accounts/{account['id']}")).json()
    assert state["status"] == "needs_reconnect"


async def test_throttling_slows_only_the_throttled_account(harness: Harness) -> None:
    await _autopilot_account(harness)
    other = await harness.create_account(external_id="17841400000000002", name="Other")
    await harness.set_policy(other["id"], mode="autopilot", min_confidence=0.6)
    await harness.add_serum(other["id"])
    harness.graph.throttle(code=80002, regain_minutes=5)

    await harness.post_webhook(text_event(IG_ID, "IGSID-T1", "Vitamin C Serum code?"))
    await harness.run_worker()
    for n in range(3):
        await harness.post_webhook(text_event(IG_ID, f"IGSID-T{n + 2}", "Vitamin C Serum code?"))
        await harness.post_webhook(
            text_event("17841400000000002", f"IGSID-O{n}", "Vitamin C Serum code?")
        )
    await harness.run_worker()

    recipients = [s.recipient for s in harness.graph.sent]
    assert sorted(recipients) == ["IGSID-O0", "IGSID-O1", "IGSID-O2"]
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        waiting = (
            await session.scalars(
                select(Job).where(Job.kind == "send_reply", Job.status == "queued")
            )
        ).all()
    assert len(waiting) == 4
    assert all(job.run_at > utc_now() + timedelta(minutes=4) for job in waiting)


async def test_human_agent_tag_only_for_a_person_and_only_with_the_feature(
    harness: Harness,
) -> None:
    account = await harness.create_account(external_id=IG_ID)
    await harness.add_serum(account["id"])
    for follower in ("IGSID-H1", "IGSID-H2"):
        await harness.post_webhook(text_event(IG_ID, follower, "serum code?"))
    await harness.run_worker()
    first, second = await _drafts(harness)

    # Approved two days later, outside the 24-hour window.
    with time_machine.travel(utc_now() + timedelta(days=2), tick=True):
        await harness.api("POST", f"/api/v1/drafts/{first.id}/approve", json={})
        await harness.run_worker()
        assert harness.graph.sent == []  # no Human Agent feature: expired, not sent
        assert (await _drafts(harness))[0].status == "expired"

        patch = {"has_human_agent": True}
        await harness.api("PATCH", f"/api/v1/accounts/{account['id']}", json=patch)
        await harness.api("POST", f"/api/v1/drafts/{second.id}/approve", json={})
        await harness.run_worker()
    [sent] = harness.graph.sent
    assert (sent.messaging_type, sent.tag) == ("MESSAGE_TAG", "HUMAN_AGENT")


async def test_permission_errors_stop_the_account(harness: Harness) -> None:
    account = await _autopilot_account(harness)
    harness.graph.permission_missing(code=200)
    await harness.post_webhook(text_event(IG_ID, "IGSID-P1", "Vitamin C Serum code?"))
    await harness.run_worker()
    state = (await harness.api("GET", f"/api/v1/accounts/{account['id']}")).json()
    assert state["status"] == "needs_reconnect"

    other = await harness.create_account(external_id="17841400000000003", name="Blocked")
    await harness.set_policy(other["id"], mode="autopilot", min_confidence=0.6)
    await harness.add_serum(other["id"])
    harness.graph.permission_missing(code=368)
    await harness.post_webhook(text_event("17841400000000003", "IGSID-P2", "Vitamin C Serum code?"))
    await harness.run_worker()
    state = (await harness.api("GET", f"/api/v1/accounts/{other['id']}")).json()
    assert (state["status"], state["paused"]) == ("active", True)
    assert state["status_reason"]
    assert harness.graph.sent == []
