"""Inbox events normalised a batch per transaction: the same outcome as one at a time,
a bad body parked alone, and locks taken in one order whatever order the events came in."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import ORMExecuteState, Session

from app.conversations.jobs import in_lock_order, process_inbox_events
from app.core.clock import from_epoch_ms, utc_now
from app.core.db import unit_of_work
from app.meta.events import parse_webhook
from app.models import Contact, Conversation, InboxEvent, Job, Message
from tests.harness import Harness, text_event

IG_ID = "17841400000000001"


async def _inbox(harness: Harness) -> list[InboxEvent]:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        return list((await session.scalars(select(InboxEvent).order_by(InboxEvent.id))).all())


async def _post(harness: Harness, *bodies: dict[str, Any]) -> None:
    for body in bodies:
        assert (await harness.post_webhook(body)).status_code == 200


async def test_a_batch_stores_each_follower_once_and_queues_one_draft_each(
    harness: Harness,
) -> None:
    account = await harness.create_account(external_id=IG_ID)
    await harness.set_policy(account["id"], mode="autopilot", min_confidence=0.6)
    start = int(utc_now().timestamp() * 1000)
    first = text_event(IG_ID, "IGSID-A", "Hi!", mid="a1", timestamp_ms=start)
    await _post(
        harness,
        first,
        text_event(IG_ID, "IGSID-B", "Hello", mid="b1", timestamp_ms=start + 1),
        text_event(IG_ID, "IGSID-A", "Code for the serum?", mid="a2", timestamp_ms=start + 2),
        # The first message again, in another body (Meta resends with a new envelope time).
        {**first, "entry": [{**first["entry"][0], "time": start + 5}]},
    )
    await process_inbox_events(harness.runtime, await _inbox(harness))

    async with unit_of_work(harness.runtime.sessionmaker) as session:
        contacts = (await session.scalars(select(Contact).order_by(Contact.external_id))).all()
        assert [c.external_id for c in contacts] == ["IGSID-A", "IGSID-B"]
        a = await session.scalar(
            select(Conversation).where(Conversation.contact_id == contacts[0].id)
        )
        assert a is not None
        mids = (
            await session.scalars(
                select(Message.mid).where(Message.conversation_id == a.id).order_by(Message.id)
            )
        ).all()
        assert list(mids) == ["a1", "a2"]  # in the order they reached us, stored once
        assert a.last_inbound_at == from_epoch_ms(start + 2)
        conversations = (await session.scalars(select(Conversation.id))).all()
        keys = [str(key) for key in (await session.scalars(select(Job.dedupe_key))).all()]
    # One waiting draft per conversation, one profile job per new follower.
    assert sorted(keys) == sorted(
        [*(f"draft:{c}" for c in conversations), *(f"profile:{c.id}" for c in contacts)]
    )

    # The whole batch again (a worker died before marking it done): nothing twice.
    await process_inbox_events(harness.runtime, await _inbox(harness))
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        assert await session.scalar(select(func.count()).select_from(Message)) == 3
        assert await session.scalar(select(func.count()).select_from(Job)) == len(keys)


async def test_a_body_that_cannot_be_read_is_parked_alone(harness: Harness) -> None:
    account = await harness.create_account(external_id=IG_ID)
    await harness.set_policy(account["id"], mode="autopilot", min_confidence=0.6)
    await harness.add_serum(account["id"])
    await _post(
        harness,
        text_event(IG_ID, "IGSID-1", "Vitamin C Serum code?"),
        {"object": "user", "entry": []},
        text_event(IG_ID, "IGSID-2", "Vitamin C Serum code?"),
    )
    await harness.run_worker()

    statuses = [(e.id, e.status) for e in await _inbox(harness)]
    assert [status for _id, status in statuses] == ["done", "unprocessable", "done"]
    assert len(harness.graph.sent) == 2


def test_events_are_applied_grouped_by_follower_in_one_order() -> None:
    """Two batches holding the same followers lock their conversations in the same order;
    a follower's own events keep the order they reached us."""
    at = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp() * 1000)
    bodies = [
        (3, text_event(IG_ID, "IGSID-Z", "z1", mid="z1", timestamp_ms=at)),
        (4, text_event(IG_ID, "IGSID-A", "a1", mid="a1", timestamp_ms=at)),
        (5, text_event(IG_ID, "IGSID-Z", "z2", mid="z2", timestamp_ms=at + 1)),
        (6, text_event(IG_ID, "IGSID-A", "a2", mid="a2", timestamp_ms=at - 1)),
    ]
    parsed = [(InboxEvent(id=item_id), parse_webhook(body)) for item_id, body in bodies]
    ordered = [(item.id, event.mid) for item, event in in_lock_order(parsed)]
    assert ordered == [(4, "a1"), (6, "a2"), (3, "z1"), (5, "z2")]
    # Another worker's batch, its bodies the other way round: still A before Z.
    other = [event.follower_id for _item, event in in_lock_order(parsed[::-1])]
    assert other == ["IGSID-A", "IGSID-A", "IGSID-Z", "IGSID-Z"]


async def test_contacts_and_conversations_are_loaded_without_the_orms_bulk_insert(
    harness: Harness,
) -> None:
    """The contact and conversation upserts return ORM objects through the ORM's SELECT
    path (`from_statement`). Run as an ORM-enabled INSERT they took the bulk-insert path,
    which keyed a statement of its own on every execution: a third of their CPU."""
    account = await harness.create_account(external_id=IG_ID)
    await harness.set_policy(account["id"], mode="autopilot", min_confidence=0.6)
    await _post(
        harness,
        text_event(IG_ID, "IGSID-A", "Hi!", mid="a1"),
        text_event(IG_ID, "IGSID-A", "Code for the serum?", mid="a2"),  # a known follower
        text_event(IG_ID, "IGSID-B", "Hello", mid="b1"),
    )
    inserts: list[str] = []

    def on_orm_execute(state: ORMExecuteState) -> None:
        if state.is_insert and state.is_orm_statement and not state.is_from_statement:
            inserts.append(str(state.statement))

    event.listen(Session, "do_orm_execute", on_orm_execute)
    try:
        for item in await _inbox(harness):  # one at a time: nothing shared between them
            await process_inbox_events(harness.runtime, [item])
    finally:
        event.remove(Session, "do_orm_execute", on_orm_execute)

    assert inserts == []
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        assert await session.scalar(select(func.count(Conversation.id))) == 2
        assert await session.scalar(select(func.count(Message.id))) == 3
