"""Conversations, contacts and the outbox as the API shows them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.conversations.schemas import ContactOut, ConversationDetail, MessageOut, OutboundOut
from app.errors import NotFound
from app.models import Contact, Conversation, Message, OutboundMessage, User
from app.users.service import ensure_access, visible_account_ids


async def _scope(session: AsyncSession, user: User, account_id: int | None) -> list[int] | None:
    if account_id is not None:
        await ensure_access(session, user, account_id)
        return [account_id]
    return await visible_account_ids(session, user)


async def list_conversations(
    session: AsyncSession, *, user: User, account_id: int | None, limit: int, offset: int
) -> list[Conversation]:
    ids = await _scope(session, user, account_id)
    statement = select(Conversation).order_by(
        Conversation.updated_at.desc(), Conversation.id.desc()
    )
    if ids is not None:
        statement = statement.where(Conversation.account_id.in_(ids))
    return list((await session.scalars(statement.limit(limit).offset(offset))).all())


async def get_conversation(
    session: AsyncSession, *, user: User, conversation_id: int
) -> Conversation:
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound("conversation not found")
    try:
        await ensure_access(session, user, conversation.account_id)
    except NotFound as exc:
        raise NotFound("conversation not found") from exc
    return conversation


async def conversation_detail(
    session: AsyncSession, *, user: User, conversation_id: int
) -> ConversationDetail:
    conversation = await get_conversation(session, user=user, conversation_id=conversation_id)
    contact = await session.get(Contact, conversation.contact_id)
    assert contact is not None
    messages = await session.scalars(
        select(Message)
        .where(Message.conversation_id == conversation.id)
        .order_by(Message.sent_at, Message.id)
    )
    return ConversationDetail.model_validate(
        {
            **{
                k: getattr(conversation, k)
                for k in ConversationDetail.model_fields
                if k not in {"contact", "messages"}
            },
            "contact": ContactOut.model_validate(contact),
            "messages": [MessageOut.model_validate(m) for m in messages],
        }
    )


async def set_paused(
    session: AsyncSession, *, user: User, conversation_id: int, paused: bool
) -> Conversation:
    conversation = await get_conversation(session, user=user, conversation_id=conversation_id)
    conversation.is_paused = paused
    if not paused:
        conversation.paused_until = None
    await record(
        session,
        action="conversation.paused" if paused else "conversation.resumed",
        user=user,
        account_id=conversation.account_id,
        entity=conversation,
    )
    return conversation


async def list_contacts(
    session: AsyncSession, *, user: User, account_id: int | None, limit: int, offset: int
) -> list[ContactOut]:
    ids = await _scope(session, user, account_id)
    statement = select(Contact).order_by(Contact.id)
    if ids is not None:
        statement = statement.where(Contact.account_id.in_(ids))
    rows = await session.scalars(statement.limit(limit).offset(offset))
    return [ContactOut.model_validate(c) for c in rows]


async def get_contact(session: AsyncSession, *, user: User, contact_id: int) -> Contact:
    contact = await session.get(Contact, contact_id)
    if contact is None:
        raise NotFound("contact not found")
    try:
        await ensure_access(session, user, contact.account_id)
    except NotFound as exc:
        raise NotFound("contact not found") from exc
    return contact


async def list_outbox(
    session: AsyncSession, *, user: User, account_id: int, limit: int
) -> list[OutboundOut]:
    await ensure_access(session, user, account_id)
    rows = await session.scalars(
        select(OutboundMessage)
        .where(OutboundMessage.account_id == account_id)
        .order_by(OutboundMessage.id.desc())
        .limit(limit)
    )
    return [OutboundOut.model_validate(o) for o in rows]
