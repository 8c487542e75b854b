"""Settling a send after the call to Meta: the write is guarded by the row still being
`sending`, not by re-reading it (app/outbox/repository.settle_sent)."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select, update

from app.core.db import unit_of_work
from app.models import (
    Account,
    AuditEntry,
    Conversation,
    Draft,
    Message,
    OutboundMessage,
    SendStatus,
)
from app.outbox.service import queue_reply
from tests.harness import INSTAGRAM_URL, Harness, text_event

IG_ID = "17841400000000001"


async def _autopilot_account(harness: Harness) -> None:
    account = await harness.create_account(external_id=IG_ID)
    await harness.set_policy(account["id"], mode="autopilot", min_confidence=0.6)
    await harness.add_serum(account["id"])


async def test_a_send_is_settled_with_its_message_draft_audit_and_conversation(
    harness: Harness,
) -> None:
    await _autopilot_account(harness)
    await harness.post_webhook(text_event(IG_ID, "IGSID-1", "Vitamin C Serum code?"))
    await harness.run_worker()

    [sent] = harness.graph.sent
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        outbound = await session.scalar(select(OutboundMessage))
        assert outbound is not None
        assert (outbound.status, outbound.attempts) == (SendStatus.SENT, 1)
        assert outbound.external_ids == [sent.message_id]
        assert outbound.parts_sent == 1
        assert outbound.sent_at is not None
        ours = (
            await session.scalars(select(Message).where(Message.outbound_id == outbound.id))
        ).all()
        assert [(m.mid, m.text, m.author, m.direction) for m in ours] == [
            (sent.message_id, sent.text, "bot", "out")
        ]
        draft = await session.get(Draft, outbound.draft_id)
        assert draft is not None
        assert draft.status == "sent"
        conversation = await session.get(Conversation, outbound.conversation_id)
        assert conversation is not None
        assert conversation.last_outbound_at == outbound.sent_at
        audit = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "outbox.sent"))
        ).all()
        assert [(a.entity_type, a.entity_id, a.actor) for a in audit] == [
            ("outbound_messages", outbound.id, "bot")
        ]


async def test_a_row_parked_by_a_takeover_during_the_call_is_still_recorded_as_sent(
    harness: Harness,
) -> None:
    """A worker that took the job over while this one waited on Meta found the row
    `sending` and parked it (outcome unknown). The guarded settle finds it changed, rolls
    back, and records what it knows: the message went out, once."""
    await _autopilot_account(harness)
    await harness.post_webhook(text_event(IG_ID, "IGSID-2", "Vitamin C Serum code?"))
    request = httpx.Request("POST", f"{INSTAGRAM_URL}/v21.0/{IG_ID}/messages")
    route = next(r for r in harness.router.routes if r.pattern.match(request))
    answer = route.side_effect
    assert callable(answer)

    async def parked_during_the_call(sent: httpx.Request) -> Any:
        async with unit_of_work(harness.runtime.sessionmaker) as session:
            await session.execute(
                update(OutboundMessage).values(
                    status=SendStatus.FAILED, error_code="outcome_unknown"
                )
            )
        return answer(sent)

    route.side_effect = parked_during_the_call
    await harness.run_worker()

    [sent] = harness.graph.sent
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        outbound = await session.scalar(select(OutboundMessage))
        assert outbound is not None
        assert (outbound.status, outbound.error_code) == (SendStatus.SENT, None)
        assert outbound.external_ids == [sent.message_id]
        mids = (
            await session.scalars(select(Message.mid).where(Message.outbound_id == outbound.id))
        ).all()
        assert mids == [sent.message_id]
        draft = await session.get(Draft, outbound.draft_id)
        assert draft is not None
        assert draft.status == "sent"
        audit = (
            await session.scalars(
                select(AuditEntry.action).where(
                    AuditEntry.entity_type == "outbound_messages",
                    AuditEntry.entity_id == outbound.id,
                )
            )
        ).all()
        assert list(audit) == ["outbox.sent"]  # the rolled-back settle left no row


async def test_a_reply_of_two_parts_is_settled_with_both_messages(harness: Harness) -> None:
    await _autopilot_account(harness)
    await harness.post_webhook(text_event(IG_ID, "IGSID-1", "Vitamin C Serum code?"))
    await harness.run_worker()
    long_text = ("Lovely serum, here is everything you need to know. " * 25) + "Code LENA15"
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        conversation = await session.scalar(select(Conversation))
        assert conversation is not None
        account = await session.get(Account, conversation.account_id)
        assert account is not None
        queued = await queue_reply(
            session,
            harness.runtime.settings,
            account=account,
            conversation=conversation,
            text=long_text,
        )
    await harness.run_worker()

    first, *parts = harness.graph.sent
    assert len(parts) == 2
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        outbound = await session.get(OutboundMessage, queued.id)
        assert outbound is not None
        assert (outbound.status, outbound.parts_sent) == (SendStatus.SENT, 2)
        assert outbound.external_ids == [part.message_id for part in parts]
        ours = (
            await session.scalars(
                select(Message).where(Message.outbound_id == outbound.id).order_by(Message.id)
            )
        ).all()
        assert [(m.mid, m.text, m.author) for m in ours] == [
            (part.message_id, part.text, "bot") for part in parts
        ]
        assert [m.payload for m in ours] == [{"metadata": f"inboxpilot:{outbound.id}"}] * 2
        conversation = await session.get(Conversation, outbound.conversation_id)
        assert conversation is not None
        assert conversation.last_outbound_at == outbound.sent_at
        audit = (
            await session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "outbox.sent", AuditEntry.entity_id == outbound.id
                )
            )
        ).all()
        assert [(a.actor, a.details) for a in audit] == [("bot", {})]
