"""The one query for a conversation's recent messages (app.conversations.repository): the
last few, oldest first, by when they were written, then by when we stored them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.conversations.repository import recent_messages, recent_messages_of
from app.core.clock import utc_now
from tests.builders import create_account, create_contact, create_conversation, create_message


async def test_the_last_messages_oldest_first_and_before_a_message(session: AsyncSession) -> None:
    account = await create_account(session)
    conversation = await create_conversation(
        session, account, await create_contact(session, account)
    )
    other = await create_conversation(
        session, account, await create_contact(session, account, external_id="IGSID-2")
    )
    start = utc_now() - timedelta(hours=1)
    first = await create_message(session, conversation, mid="m1", text="1", sent_at=start)
    # Delivered late but written earlier than the first one stored: it reads first.
    late = await create_message(
        session, conversation, mid="m2", text="0", sent_at=start - timedelta(minutes=1)
    )
    # Same second as the first: the one stored later comes after it.
    same = await create_message(session, conversation, mid="m3", text="2", sent_at=start)
    newest = await create_message(
        session, conversation, mid="m4", text="3", sent_at=start + timedelta(minutes=1)
    )
    await create_message(session, other, mid="m5", sent_at=start + timedelta(minutes=2))

    ids = [m.id for m in await recent_messages(session, conversation.id, limit=10)]
    assert ids == [late.id, first.id, same.id, newest.id]
    two = await recent_messages(session, conversation.id, limit=2)
    assert [m.id for m in two] == [same.id, newest.id]
    before = await recent_messages(session, conversation.id, limit=2, before_id=same.id)
    assert [m.id for m in before] == [late.id, first.id]
    assert await recent_messages(session, conversation.id, limit=5, before_id=first.id) == []

    many = await recent_messages_of(session, {conversation.id, other.id, 999_999}, limit=2)
    assert [m.id for m in many[conversation.id]] == [same.id, newest.id]
    assert len(many[other.id]) == 1
    assert many[999_999] == []
    assert await recent_messages_of(session, set(), limit=2) == {}
