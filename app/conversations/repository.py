"""SQL of contacts, conversations and messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import utc_now
from app.core.db import insert_ignore
from app.models import Account, Contact, Conversation, Draft, Message, OutboundMessage, SendStatus


async def account_by_external_id(
    session: AsyncSession, platform: str, external_id: str
) -> Account | None:
    return await session.scalar(
        select(Account).where(Account.platform == platform, Account.external_id == external_id)
    )


async def get_or_create_contact(
    session: AsyncSession, account_id: int, external_id: str
) -> Contact:
    await session.execute(
        insert_ignore(session, Contact.__table__, ["account_id", "external_id"]).values(
            account_id=account_id, external_id=external_id
        )
    )
    contact = await session.scalar(
        select(Contact).where(Contact.account_id == account_id, Contact.external_id == external_id)
    )
    assert contact is not None
    return contact


async def get_or_create_conversation(
    session: AsyncSession, account_id: int, contact_id: int
) -> Conversation:
    """The conversation, created if need be, and locked until the caller commits."""
    await session.execute(
        insert_ignore(session, Conversation.__table__, ["account_id", "contact_id"]).values(
            account_id=account_id, contact_id=contact_id, is_paused=False
        )
    )
    # Locked for the rest of the caller's transaction (FOR NO KEY UPDATE): the events of
    # one conversation are stored one after the other, so its messages' ids follow the
    # order they were committed, which is what app.conversations.answered relies on.
    conversation = await session.scalar(
        select(Conversation)
        .where(Conversation.account_id == account_id, Conversation.contact_id == contact_id)
        .with_for_update(key_share=True)
    )
    assert conversation is not None
    return conversation


async def find_conversation(
    session: AsyncSession, account_id: int, external_id: str
) -> tuple[Contact, Conversation] | None:
    """The follower's contact and conversation, if we have them (never creates them)."""
    row = (
        await session.execute(
            select(Contact, Conversation)
            .join(Conversation, Conversation.contact_id == Contact.id)
            .where(Contact.account_id == account_id, Contact.external_id == external_id)
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def insert_message(session: AsyncSession, values: dict[str, Any]) -> int | None:
    """Inserts a message; None when one with the same (account, mid) is stored already."""
    statement = (
        insert_ignore(session, Message.__table__, ["account_id", "mid"])
        .values(**values)
        .returning(Message.__table__.c.id)
    )
    inserted: int | None = (await session.execute(statement)).scalar_one_or_none()
    return inserted


async def message_by_mid(session: AsyncSession, account_id: int, mid: str) -> Message | None:
    return await session.scalar(
        select(Message).where(Message.account_id == account_id, Message.mid == mid)
    )


def recent_statement(
    conversation_id: int, *, limit: int, before_id: int | None = None
) -> Select[Message]:
    """The conversation's last `limit` messages (those before message `before_id`, when
    given), newest first: by when they were written, then by when we stored them."""
    statement = select(Message).where(Message.conversation_id == conversation_id)
    if before_id is not None:
        statement = statement.where(Message.id < before_id)
    return statement.order_by(Message.sent_at.desc(), Message.id.desc()).limit(limit)


async def recent_messages(
    session: AsyncSession, conversation_id: int, *, limit: int, before_id: int | None = None
) -> list[Message]:
    """`recent_statement`'s messages, oldest first."""
    rows = await session.scalars(
        recent_statement(conversation_id, limit=limit, before_id=before_id)
    )
    return list(reversed(rows.all()))


async def recent_messages_of(
    session: AsyncSession, conversation_ids: set[int], *, limit: int
) -> dict[int, list[Message]]:
    """`recent_messages` of several conversations in one query (a window function)."""
    recent: dict[int, list[Message]] = {cid: [] for cid in conversation_ids}
    if not conversation_ids:
        return recent
    rank = (
        func.row_number()
        .over(
            partition_by=Message.conversation_id,
            order_by=(Message.sent_at.desc(), Message.id.desc()),
        )
        .label("rank")
    )
    ranked = (
        select(Message.id, rank).where(Message.conversation_id.in_(conversation_ids)).subquery()
    )
    rows = await session.scalars(
        select(Message)
        .join(ranked, ranked.c.id == Message.id)
        .where(ranked.c.rank <= limit)
        .order_by(Message.sent_at, Message.id)
    )
    for message in rows:
        recent[message.conversation_id].append(message)
    return recent


async def messages_quoting(session: AsyncSession, message: Message) -> list[Message]:
    """Replies whose payload shows `message` (payload.reply_to.message_id)."""
    quoted_id = Message.payload[("reply_to", "message_id")].as_integer()
    rows = await session.scalars(
        select(Message).where(
            Message.conversation_id == message.conversation_id,
            Message.id > message.id,
            quoted_id == message.id,
        )
    )
    return list(rows.all())


async def mark_outbound_read(
    session: AsyncSession,
    conversation_id: int,
    *,
    column: str,
    watermark: datetime | None,
    mids: tuple[str, ...] = (),
) -> None:
    """Sets delivered_at/read_at on our outgoing messages up to a watermark, or by mid."""
    target = Message.delivered_at if column == "delivered_at" else Message.read_at
    conditions = [
        Message.conversation_id == conversation_id,
        Message.direction == "out",
        target.is_(None),
    ]
    if mids:
        conditions.append(Message.mid.in_(mids))
    elif watermark is not None:
        conditions.append(Message.sent_at <= watermark)
    else:
        return
    await session.execute(
        update(Message)
        .where(*conditions)
        .values({column: watermark or utc_now()})
        .execution_options(synchronize_session=False)
    )


async def outbound_outcome_unknown(
    session: AsyncSession, account_id: int, outbound_id: int
) -> bool:
    """True for our reply parked because its worker died during the call to Meta."""
    found = await session.scalar(
        select(OutboundMessage.id).where(
            OutboundMessage.id == outbound_id,
            OutboundMessage.account_id == account_id,
            OutboundMessage.status == SendStatus.FAILED,
            OutboundMessage.error_code == "outcome_unknown",
        )
    )
    return found is not None


async def conversation_language(
    session: AsyncSession, conversation_id: int, *, default: str
) -> str:
    """The language the conversation was last answered in (its newest draft's), else
    `default` (the account's main language)."""
    language = await session.scalar(
        select(Draft.language)
        .where(Draft.conversation_id == conversation_id)
        .order_by(Draft.id.desc())
        .limit(1)
    )
    return language or default
