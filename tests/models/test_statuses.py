"""Draft, send and inbox statuses are typed values stored as the same plain strings: they
read back as the enum on both databases, and a word outside the vocabulary is refused
before it reaches the database."""

from __future__ import annotations

import pytest
from sqlalchemy import String, select, text, update
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Draft, DraftStatus, InboxEvent, InboxStatus, SendStatus
from app.models.base import StatusColumn
from tests.builders import (
    create_account,
    create_contact,
    create_conversation,
    create_draft,
    create_message,
)


async def test_a_status_is_stored_as_its_word_and_read_back_typed(session: AsyncSession) -> None:
    account = await create_account(session)
    conversation = await create_conversation(
        session, account, await create_contact(session, account)
    )
    draft = await create_draft(session, conversation, await create_message(session, conversation))
    await session.execute(
        update(Draft).where(Draft.id == draft.id).values(status=DraftStatus.SUPERSEDED)
    )
    stored = await session.scalar(
        text("SELECT status FROM drafts WHERE id = :id"), {"id": draft.id}
    )
    assert stored == "superseded"
    assert type(stored) is str
    read = await session.scalar(select(Draft.status).where(Draft.id == draft.id))
    assert read is DraftStatus.SUPERSEDED
    # A plain string of the vocabulary is accepted (tests and old code paths write those).
    await session.execute(update(Draft).where(Draft.id == draft.id).values(status="sent"))
    assert (
        await session.scalar(select(Draft.status).where(Draft.id == draft.id)) is DraftStatus.SENT
    )


async def test_a_word_outside_the_vocabulary_is_refused(session: AsyncSession) -> None:
    account = await create_account(session)
    conversation = await create_conversation(
        session, account, await create_contact(session, account)
    )
    draft = await create_draft(session, conversation, await create_message(session, conversation))
    with pytest.raises(StatementError, match="'pendng' is not a valid DraftStatus"):
        await session.execute(update(Draft).where(Draft.id == draft.id).values(status="pendng"))


def test_the_columns_keep_their_plain_string_types() -> None:
    draft_status = Draft.__table__.c.status.type
    inbox_status = InboxEvent.__table__.c.status.type
    assert isinstance(draft_status, StatusColumn)
    assert isinstance(draft_status.impl_instance, String)
    assert draft_status.impl_instance.length == 16
    assert isinstance(inbox_status, StatusColumn)
    assert isinstance(inbox_status.impl_instance, String)
    assert inbox_status.impl_instance.length is None
    assert set(SendStatus) >= {"queued", "sending", "sent", "failed", "expired", "cancelled"}
    assert InboxStatus.UNPROCESSABLE.value == "unprocessable"
