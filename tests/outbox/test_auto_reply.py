"""The rows an automatic reply writes: the draft, its outbound row, the send job and the
audit row. PostgreSQL writes them in one statement (`app.outbox.auto_reply`), SQLite
through the ORM; the same expectations on both databases keep the two paths writing the
same rows. Real worker; Meta's Send API is never reached (the reply is held)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.core.db import unit_of_work
from app.models import AuditEntry, Draft, DraftStatus, Job, OutboundMessage, SendStatus
from app.outbox.service import SEND_PRIORITY
from app.worker import queue
from app.worker.kinds import JobKind
from tests.harness import Harness, text_event

IG_ID = "17841400000000001"
HOLD = 30


async def test_an_automatic_reply_writes_its_draft_reply_job_and_audit_row(
    harness: Harness,
) -> None:
    account = await harness.create_account(external_id=IG_ID)
    await harness.set_policy(
        account["id"], mode="autopilot", min_confidence=0.6, hold_auto_seconds=HOLD
    )
    cooperation = await harness.add_serum(account["id"])
    serum = cooperation["products"][0]["id"]
    await harness.post_webhook(
        text_event(IG_ID, "IGSID-1", "Hi! What's the code for the Vitamin C Serum?")
    )
    await harness.run_worker()  # drafts; the send waits out the hold

    async with unit_of_work(harness.runtime.sessionmaker) as session:
        [draft] = (await session.scalars(select(Draft))).all()
        [outbound] = (await session.scalars(select(OutboundMessage))).all()
        [send] = (await session.scalars(select(Job).where(Job.kind == JobKind.SEND_REPLY))).all()
        [audit] = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "draft.auto_approved")
            )
        ).all()

    assert (draft.account_id, draft.kind, draft.decision) == (account["id"], "dm", "auto")
    assert draft.status == DraftStatus.APPROVED
    assert "LENA15" in draft.text
    assert draft.decided_at is not None
    assert abs(draft.updated_at - draft.created_at) < timedelta(seconds=1)
    assert draft.reply_to_message_id is not None
    assert (draft.decided_by_user_id, draft.final_text, draft.reject_reason) == (None, None, None)

    assert outbound.draft_id == draft.id
    assert outbound.conversation_id == draft.conversation_id
    assert outbound.account_id == account["id"]
    assert outbound.idempotency_key == f"draft:{draft.id}"
    assert (outbound.channel, outbound.status) == ("graph", SendStatus.QUEUED)
    assert (outbound.parts_sent, outbound.external_ids, outbound.attempts) == (0, [], 0)
    assert outbound.messaging_type == "RESPONSE"
    assert len(outbound.parts) == 1
    assert "LENA15" in outbound.parts[0]
    assert outbound.codes_sent == [serum]  # the products whose code it gives
    assert outbound.disclosed is True
    assert (outbound.sent_by_user_id, outbound.comment_id, outbound.sent_at) == (None, None, None)
    assert outbound.hold_until is not None
    held_for = outbound.hold_until - draft.created_at
    assert timedelta(seconds=HOLD - 5) < held_for <= timedelta(seconds=HOLD + 5)

    assert send.payload == {"outbound_id": outbound.id}
    assert send.run_at == outbound.hold_until
    assert (send.status, send.attempts, send.dedupe_key) == (queue.QUEUED, 0, None)
    assert (send.account_id, send.priority) == (account["id"], SEND_PRIORITY)
    assert send.max_attempts == harness.runtime.settings.JOB_MAX_ATTEMPTS

    assert (audit.actor, audit.user_id, audit.account_id) == ("bot", None, account["id"])
    assert (audit.entity_type, audit.entity_id) == ("drafts", draft.id)
    assert set(audit.details) == {"confidence", "intent", "reasons"}
    assert audit.details["intent"] == draft.intent


async def test_without_a_hold_the_reply_goes_out_in_the_same_pass(harness: Harness) -> None:
    """The send job written with the draft is claimed and run by the same worker pass."""
    account = await harness.create_account(external_id=IG_ID)
    await harness.set_policy(
        account["id"], mode="autopilot", min_confidence=0.6, hold_auto_seconds=0
    )
    await harness.add_serum(account["id"])
    await harness.post_webhook(
        text_event(IG_ID, "IGSID-1", "Hi! What's the code for the Vitamin C Serum?")
    )
    await harness.run_worker()
    assert len(harness.graph.sent) == 1
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        [outbound] = (await session.scalars(select(OutboundMessage))).all()
        [draft] = (await session.scalars(select(Draft))).all()
    assert outbound.status == SendStatus.SENT
    assert draft.status == DraftStatus.SENT
