"""SQL of contacts, conversations and messages."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningInsert
from sqlalchemy.sql.selectable import ExecutableReturnsRows

from app.conversations.answered import ConversationId
from app.core.clock import utc_now
from app.core.db import bound_row, dialect_insert_for, dialect_name
from app.models import Account, Contact, Conversation, Draft, Message, OutboundMessage, SendStatus


async def account_by_external_id(
    session: AsyncSession, platform: str, external_id: str
) -> Account | None:
    return await session.scalar(
        _ACCOUNT_BY_EXTERNAL_ID, {"platform": platform, "external_id": external_id}
    )


# Statements of every webhook event, built once: their bound values are given at execution.
_ACCOUNT_BY_EXTERNAL_ID = select(Account).where(
    Account.platform == bindparam("platform"), Account.external_id == bindparam("external_id")
)
_CONTACT = select(Contact).where(
    Contact.account_id == bindparam("account_id"), Contact.external_id == bindparam("external_id")
)


async def get_or_create_contact(
    session: AsyncSession, account_id: int, external_id: str
) -> tuple[Contact, bool]:
    """The follower's contact, and whether this call created it. A new follower costs one
    statement (INSERT ... RETURNING); a known one, two. No DO UPDATE: that would lock the
    contact row for the rest of the transaction, which erasure (conversation, then contact)
    could then deadlock with."""
    params = {"account_id": account_id, "external_id": external_id}
    created: Contact | None = await session.scalar(_new_contact(dialect_name(session)), params)
    if created is not None:
        return created, True
    contact = await session.scalar(_CONTACT, params)
    assert contact is not None
    return contact, False


@functools.cache
def _new_contact(dialect: str) -> ExecutableReturnsRows:
    insert = dialect_insert_for(dialect, Contact).values(
        account_id=bindparam("account_id"), external_id=bindparam("external_id")
    )
    return _loading(
        Contact,
        insert.on_conflict_do_nothing(index_elements=["account_id", "external_id"]).returning(
            Contact
        ),
    )


def _loading(entity: type[Any], statement: ReturningInsert[Any]) -> ExecutableReturnsRows:
    """`statement`'s RETURNING loaded as `entity` objects, by the ORM's SELECT path: run
    directly, an ORM-enabled INSERT takes its bulk path, which builds and keys a statement
    of its own on every execution (about a third of the contact and conversation upserts'
    CPU, measured; issue 15)."""
    return select(entity).from_statement(statement)


async def get_or_create_conversation(
    session: AsyncSession, account_id: int, contact_id: int, *, inbound_at: datetime | None = None
) -> Conversation:
    """The conversation, created if need be, and locked until the caller commits; in the
    same statement its `last_inbound_at` moves up to `inbound_at` (the follower's input
    that opens Meta's 24-hour window), never back.

    The lock (an upsert's DO UPDATE takes FOR NO KEY UPDATE, as the row lock of a SELECT
    ... FOR NO KEY UPDATE would): the events of one conversation are stored one after the
    other, so its messages' ids follow the order they were committed, which is what
    app.conversations.answered relies on. Messages being inserted meanwhile need only a
    key share on it."""
    conversation: Conversation | None = await session.scalar(
        _conversation_upsert(dialect_name(session)),
        {"account_id": account_id, "contact_id": contact_id, "inbound_at": inbound_at},
        execution_options={"populate_existing": True},
    )
    assert conversation is not None
    return conversation


@functools.cache
def _conversation_upsert(dialect: str) -> ExecutableReturnsRows:
    statement = dialect_insert_for(dialect, Conversation).values(
        account_id=bindparam("account_id"),
        contact_id=bindparam("contact_id"),
        is_paused=False,
        last_inbound_at=bindparam("inbound_at", type_=Conversation.last_inbound_at.type),
    )
    new = statement.excluded
    keep = or_(new.last_inbound_at.is_(None), Conversation.last_inbound_at >= new.last_inbound_at)
    upsert = statement.on_conflict_do_update(
        index_elements=["account_id", "contact_id"],
        set_={
            "last_inbound_at": case(
                (keep, Conversation.last_inbound_at), else_=new.last_inbound_at
            ),
            "updated_at": case((keep, Conversation.updated_at), else_=new.updated_at),
        },
    )
    return _loading(Conversation, upsert.returning(Conversation))


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
    statement = _message_insert(dialect_name(session), tuple(values))
    inserted: int | None = (await session.execute(statement, values)).scalar_one_or_none()
    return inserted


@functools.lru_cache(maxsize=64)
def _message_insert(dialect: str, columns: tuple[str, ...]) -> ReturningInsert[Any]:
    """`insert_message`'s statement for these columns, built once with bound parameters
    (every inbound message runs it; built per call it cost its construction and cache
    key every time, issue 15)."""
    insert = dialect_insert_for(dialect, _MESSAGES).values(bound_row(_MESSAGES, columns))
    return insert.on_conflict_do_nothing(index_elements=["account_id", "mid"]).returning(
        _MESSAGES.c.id
    )


_MESSAGES = cast(Table, Message.__table__)


async def message_by_mid(session: AsyncSession, account_id: int, mid: str) -> Message | None:
    return await session.scalar(
        select(Message).where(Message.account_id == account_id, Message.mid == mid)
    )


def recent_statement(
    conversation_id: ConversationId, *, limit: int, before_id: int | None = None
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
