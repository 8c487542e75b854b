"""Which follower messages still wait for an answer: the one rule, for the drafter, the
draft job's last check and the pages that show a thread.

A follower message is unanswered until a reply has taken it into account, and that is
decided in the order messages reached us (their ids), never by comparing Meta's
timestamps with our clock: a backlog, or Meta's late and repeated deliveries after an
outage, bring messages written before our last reply, and they deserve an answer too.

- A draft covers the follower messages it was drafted from: every message of its
  conversation up to its `reply_to_message_id`, the newest of them by id. A superseded
  draft covers nothing (a newer message, an edit, an unsend or a person's reply replaced
  it), so what it covered is drafted for again unless something else covers it.
- A person's reply covers every message that had reached us before it: a reply by hand
  in the desk, or an echo of one made in Meta's apps or by another app
  (`conversations.answered_by_hand_through_id`).

- A notice covers the follower message it answers when nothing else waits before it:
  STOP, START and a thanked story mention (app/conversations/optout.py) raise the same
  mark as a person's reply, through that message.

A conversation's unanswered messages are its answerable follower messages with an id
above both. Ids are a sound order because ingest stores a conversation's events one at a
time (it holds the conversation's row lock while it does): a message never becomes
visible after another one of the same conversation with a higher id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    case,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Conversation, Draft, DraftStatus, Message

# Entry kinds a reply can answer; reactions, referrals, receipts, unsent messages... not.
ANSWERABLE_KINDS = ("text", "attachment", "postback", "unsupported")

# A conversation's id, or a bound parameter standing for it in a statement built once.
ConversationId = int | BindParameter[int]


def unanswered_statement(conversation_id: ConversationId) -> Select[Message]:
    drafted = (
        select(func.max(Draft.reply_to_message_id))
        .where(
            Draft.conversation_id == conversation_id,
            Draft.status != DraftStatus.SUPERSEDED,
            # A private reply to a comment answers the comment, not the DMs before it.
            Draft.kind == "dm",
        )
        .scalar_subquery()
    )
    by_hand = (
        select(Conversation.answered_by_hand_through_id)
        .where(Conversation.id == conversation_id)
        .scalar_subquery()
    )
    return select(Message).where(
        *_answerable(conversation_id),
        Message.id > func.coalesce(drafted, 0),
        Message.id > func.coalesce(by_hand, 0),
    )


def _answerable(conversation_id: ConversationId) -> tuple[ColumnElement[bool], ...]:
    return (
        Message.conversation_id == conversation_id,
        Message.direction == "in",
        Message.author == "follower",
        Message.kind.in_(ANSWERABLE_KINDS),
    )


async def unanswered_messages(
    session: AsyncSession, conversation_id: int, *, limit: int | None = None
) -> list[Message]:
    """The conversation's unanswered follower messages in the order they reached us; with
    `limit`, the newest `limit` of them."""
    statement = unanswered_statement(conversation_id).order_by(Message.id.desc()).limit(limit)
    return list(reversed((await session.scalars(statement)).all()))


def thread_statement(
    conversation_id: ConversationId, *, recent: Select[Any], unanswered: int
) -> Select[Message, bool]:
    """One query: the messages of `recent` (a `recent_statement`) and the newest
    `unanswered` unanswered ones, by id, each with whether it is unanswered."""
    waiting = (
        unanswered_statement(conversation_id)
        .with_only_columns(Message.id)
        .order_by(Message.id.desc())
        .limit(unanswered)
        .subquery()
    )
    shown = recent.with_only_columns(Message.id).subquery()
    is_waiting = Message.id.in_(select(waiting.c.id))
    return (
        select(Message, is_waiting.label("waiting"))
        .where(or_(is_waiting, Message.id.in_(select(shown.c.id))))
        .order_by(Message.id)
    )


async def thread_for_reply(
    session: AsyncSession, statement: Select[Message, bool], params: Mapping[str, Any]
) -> tuple[list[Message], set[int]]:
    """The messages of a `thread_statement`, and which of them are unanswered."""
    rows = await session.execute(statement, params)
    messages, waiting_ids = [], set()
    for message, is_unanswered in rows:
        messages.append(message)
        if is_unanswered:
            waiting_ids.add(message.id)
    return messages, waiting_ids


async def newest_unanswered_id(session: AsyncSession, conversation_id: int) -> int | None:
    """The id a draft written now would reply to; None when nothing waits for an answer."""
    newest: int | None = await session.scalar(
        unanswered_statement(conversation_id).with_only_columns(func.max(Message.id))
    )
    return newest


async def answered_by_hand(
    session: AsyncSession, conversation_id: int, *, through_id: int | None = None
) -> None:
    """A person replied: everything that reached us up to `through_id` (an echo's own
    entry) or, without it, every follower message stored so far counts as answered.

    One UPDATE that only ever raises the mark, so concurrent replies cannot lower it."""
    newest: Any = (
        select(func.max(Message.id)).where(*_answerable(conversation_id)).scalar_subquery()
        if through_id is None
        else literal(through_id)
    )
    current = Conversation.answered_by_hand_through_id
    await session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id)
        .values(
            answered_by_hand_through_id=case(
                (current.is_(None), newest), (current < newest, newest), else_=current
            )
        )
        .execution_options(synchronize_session=False)
    )


async def has_unanswered_before(
    session: AsyncSession, conversation_id: int, message_id: int
) -> bool:
    """Whether follower messages that reached us before `message_id` still wait for an
    answer (a reply drafted now would have to cover them too)."""
    found = await session.scalar(
        unanswered_statement(conversation_id)
        .with_only_columns(Message.id)
        .where(Message.id < message_id)
        .limit(1)
    )
    return found is not None
