"""Conversations, contacts and the outbox as the API shows them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.conversations.answered import unanswered_messages
from app.conversations.repository import recent_messages
from app.conversations.schemas import (
    ContactOut,
    ConversationDetail,
    MessageOut,
    OutboundOut,
    PublicReplyOut,
)
from app.core.clock import utc_now
from app.errors import NotFound
from app.models import (
    Account,
    AuditEntry,
    CommentReply,
    Contact,
    Conversation,
    Draft,
    DraftStatus,
    Message,
    OutboundMessage,
    SendStatus,
    User,
)
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
                if k not in {"contact", "messages", "unanswered_message_ids"}
            },
            "contact": ContactOut.model_validate(contact),
            "messages": [MessageOut.model_validate(m) for m in messages],
            "unanswered_message_ids": [
                m.id for m in await unanswered_messages(session, conversation.id)
            ],
        }
    )


async def set_paused(
    session: AsyncSession, *, user: User, conversation_id: int, paused: bool
) -> Conversation:
    conversation = await get_conversation(session, user=user, conversation_id=conversation_id)
    details: dict[str, Any] = {}
    if (
        not paused
        and conversation.paused_until is not None
        and conversation.paused_until > utc_now()
    ):
        # Resuming also ends the timed pause after a reply by hand ("Resume now").
        details["ended_pause_until"] = conversation.paused_until.isoformat()
    conversation.is_paused = paused
    if not paused:
        conversation.paused_until = None
    await record(
        session,
        action="conversation.paused" if paused else "conversation.resumed",
        user=user,
        account_id=conversation.account_id,
        entity=conversation,
        details=details or None,
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
    rows = list(
        await session.scalars(
            select(OutboundMessage)
            .where(OutboundMessage.account_id == account_id)
            .order_by(OutboundMessage.id.desc())
            .limit(limit)
        )
    )
    public = await public_replies(session, rows)
    result = []
    for row in rows:
        out = OutboundOut.model_validate(row)
        comment = public.get(row.id)
        if comment is not None:
            out.public_reply = PublicReplyOut.model_validate(comment)
        result.append(out)
    return result


async def public_replies(
    session: AsyncSession, rows: list[OutboundMessage]
) -> dict[int, CommentReply]:
    """The comment each private reply among `rows` answered, if it has a public reply,
    by outbound id."""
    private = {(r.account_id, r.comment_id): r.id for r in rows if r.comment_id is not None}
    if not private:
        return {}
    comments = await session.scalars(
        select(CommentReply).where(
            CommentReply.account_id.in_({account for account, _ in private}),
            CommentReply.comment_id.in_({comment for _, comment in private}),
            CommentReply.public_reply_status.is_not(None),
        )
    )
    return {
        private[(c.account_id, c.comment_id)]: c
        for c in comments
        if (c.account_id, c.comment_id) in private
    }


# The moderator's desk (app/ui): the conversation list and a whole thread with who sent what.


@dataclass(slots=True)
class ConversationRow:
    conversation: Conversation
    contact: Contact
    account: Account
    last_message: Message | None
    pending_drafts: int


@dataclass(slots=True)
class Thread:
    conversation: Conversation
    contact: Contact
    account: Account
    messages: list[Message]
    outbound: dict[int, OutboundMessage]
    drafts: dict[int, Draft]
    people: dict[int, str]  # user id -> email
    pending: list[Draft]
    # Replies not (or not yet) delivered: queued, sending, failed or expired.
    unsent: list[OutboundMessage] = field(default_factory=list)
    history: list[AuditEntry] = field(default_factory=list)
    unanswered: set[int] = field(default_factory=set)  # message ids no reply covers yet


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def conversation_rows(
    session: AsyncSession,
    *,
    user: User,
    account_id: int | None,
    search: str | None,
    limit: int,
    offset: int,
) -> list[ConversationRow]:
    """Newest activity first; `search` matches the follower's name or username."""
    ids = await _scope(session, user, account_id)
    statement = (
        select(Conversation, Contact, Account)
        .join(Contact, Contact.id == Conversation.contact_id)
        .join(Account, Account.id == Conversation.account_id)
        .order_by(Conversation.updated_at.desc(), Conversation.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if ids is not None:
        statement = statement.where(Conversation.account_id.in_(ids))
    if search and search.strip():
        pattern = _like(search.strip())
        statement = statement.where(
            or_(
                Contact.name.ilike(pattern, escape="\\"),
                Contact.username.ilike(pattern, escape="\\"),
            )
        )
    rows = [(r[0], r[1], r[2]) for r in (await session.execute(statement)).all()]
    counts = await session.execute(
        select(Draft.conversation_id, func.count())
        .where(
            Draft.status == DraftStatus.PENDING, Draft.conversation_id.in_([r[0].id for r in rows])
        )
        .group_by(Draft.conversation_id)
    )
    pending: dict[int, int] = {int(r[0]): int(r[1]) for r in counts.all()}
    result = []
    for conversation, contact, account in rows:
        last = next(iter(await recent_messages(session, conversation.id, limit=1)), None)
        result.append(
            ConversationRow(conversation, contact, account, last, pending.get(conversation.id, 0))
        )
    return result


async def thread(session: AsyncSession, *, user: User, conversation_id: int) -> Thread:
    """Every entry of the conversation, with the replies' drafts, senders and audit trail."""
    conversation = await get_conversation(session, user=user, conversation_id=conversation_id)
    contact = await session.get(Contact, conversation.contact_id)
    account = await session.get(Account, conversation.account_id)
    assert contact is not None
    assert account is not None
    messages = list(
        (
            await session.scalars(
                select(Message)
                .where(Message.conversation_id == conversation.id)
                .order_by(Message.sent_at, Message.id)
            )
        ).all()
    )
    outbound = {
        o.id: o
        for o in await session.scalars(
            select(OutboundMessage).where(OutboundMessage.conversation_id == conversation.id)
        )
    }
    drafts = {
        d.id: d
        for d in await session.scalars(
            select(Draft).where(Draft.conversation_id == conversation.id)
        )
    }
    history = list(
        (
            await session.scalars(
                select(AuditEntry)
                .where(
                    or_(
                        (AuditEntry.entity_type == "conversations")
                        & (AuditEntry.entity_id == conversation.id),
                        (AuditEntry.entity_type == "drafts")
                        & AuditEntry.entity_id.in_(list(drafts)),
                        (AuditEntry.entity_type == "outbound_messages")
                        & AuditEntry.entity_id.in_(list(outbound)),
                    )
                )
                .order_by(AuditEntry.at, AuditEntry.id)
            )
        ).all()
    )
    user_ids = {o.sent_by_user_id for o in outbound.values()}
    user_ids |= {d.decided_by_user_id for d in drafts.values()}
    user_ids |= {a.user_id for a in history}
    people = {
        u.id: u.email
        for u in await session.scalars(
            select(User).where(User.id.in_([i for i in user_ids if i is not None]))
        )
    }
    delivered = {m.outbound_id for m in messages if m.outbound_id is not None}
    return Thread(
        conversation=conversation,
        contact=contact,
        account=account,
        messages=messages,
        outbound=outbound,
        drafts=drafts,
        people=people,
        pending=sorted(
            (d for d in drafts.values() if d.status == DraftStatus.PENDING), key=lambda d: d.id
        ),
        unsent=[
            o for o in outbound.values() if o.id not in delivered and o.status != SendStatus.SENT
        ],
        history=history,
        unanswered={m.id for m in await unanswered_messages(session, conversation.id)},
    )
