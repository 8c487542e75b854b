"""The rows an automatic reply writes: the draft, its outbound row, the send job, the
audit row and the conversation's new tracked link. PostgreSQL writes them in one
statement (`app.outbox.auto_reply`), SQLite in Core statements; the same expectations on
both databases keep the two paths writing the same rows. Real worker; Meta's Send API is
never reached (the reply is held)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.core.db import unit_of_work
from app.links.service import PATH
from app.models import (
    Account,
    AuditEntry,
    Conversation,
    Draft,
    DraftStatus,
    Job,
    OutboundMessage,
    SendStatus,
    TrackedLink,
)
from app.outbox.auto_reply import store_auto_reply
from app.outbox.compose import Outgoing
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

    # The conversation's first link to the serum, written with the reply that gives it.
    [link] = await _links(harness)
    assert (link.account_id, link.conversation_id) == (account["id"], draft.conversation_id)
    assert (link.product_id, link.last_click_at) == (serum, None)
    assert f"{PATH}{link.token}" in outbound.parts[0]
    assert abs(link.created_at - draft.created_at) < timedelta(seconds=1)


async def _links(harness: Harness) -> list[TrackedLink]:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        return list((await session.scalars(select(TrackedLink))).all())


async def _counts(harness: Harness) -> list[int]:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        return [
            int(await session.scalar(select(func.count()).select_from(model)) or 0)
            for model in (Draft, OutboundMessage, Job, AuditEntry, TrackedLink)
        ]


async def test_a_link_made_meanwhile_fails_the_reply_whole(harness: Harness) -> None:
    """Another transaction made the conversation's link to the product after the draft
    job read its links: the reply's new link (a plain INSERT) fails the whole statement,
    so nothing is written (the job runs again and reads that link), rather than a reply
    whose token was never stored."""
    account = await harness.create_account(external_id=IG_ID)
    await harness.set_policy(
        account["id"], mode="autopilot", min_confidence=0.6, hold_auto_seconds=HOLD
    )
    serum = (await harness.add_serum(account["id"]))["products"][0]["id"]
    await harness.post_webhook(
        text_event(IG_ID, "IGSID-1", "Hi! What's the code for the Vitamin C Serum?")
    )
    await harness.run_worker()
    [existing] = await _links(harness)
    before = await _counts(harness)

    with pytest.raises(IntegrityError):
        await _reply_with_link(harness, existing.conversation_id, serum, token="other-token")
    assert await _counts(harness) == before
    assert [link.token for link in await _links(harness)] == [existing.token]


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


async def _reply_with_link(
    harness: Harness, conversation_id: int, product_id: int, *, token: str
) -> None:
    """An automatic reply to the conversation whose text gives a new link to the product."""
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        conversation = await session.get_one(Conversation, conversation_id)
        account = await session.get_one(Account, conversation.account_id)
        draft = Draft(
            account_id=account.id,
            conversation_id=conversation.id,
            kind="dm",
            status=DraftStatus.APPROVED,
            decision="auto",
            text="Serum: https://example.com/serum",
        )
        await store_auto_reply(
            session,
            harness.runtime.settings,
            Outgoing(text=f"Serum: {PATH}{token}", new_links={product_id: token}),
            account=account,
            conversation=conversation,
            draft=draft,
            details={},
            hold_seconds=HOLD,
        )
