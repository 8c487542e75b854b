"""What the draft job reads again after the drafter ran, under the conversation's lock:
one statement for every fact that may have changed while the drafter was busy."""

from __future__ import annotations

import functools
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Integer, Select, Table, bindparam, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.conversations.answered import unanswered_statement
from app.core.db import dialect_name
from app.drafting.context import DraftContext
from app.models import Account, Contact, Conversation, Draft, DraftStatus, Message, TrackedLink
from app.outbox.disclosure import told_already_statement


@dataclass(frozen=True, slots=True)
class Recheck:
    drafted: bool  # another run drafted this message while we were drafting
    held: bool  # another app holds the thread (standby)
    opted_out: bool  # the follower wrote STOP while we were drafting
    stale: bool  # the reply no longer answers the newest unanswered message as it stands
    told: bool  # the conversation already had its disclosure line
    account_status: str
    account_paused: bool
    conversation_paused: bool
    paused_until: datetime | None
    tokens: dict[int, str] = field(default_factory=dict)  # tracked links that exist


async def lock_conversation(session: AsyncSession, conversation_id: int) -> None:
    """Concurrent runs of this job (a lease that expired under load) take turns.
    FOR NO KEY UPDATE: messages being ingested meanwhile only need a key share on it.
    Its own statement, before the checks: on PostgreSQL a statement that waited for a lock
    still reads the other tables as they were when it started, so checks folded into it
    would miss what the run we waited for wrote. SQLite's writers are serialised by BEGIN
    IMMEDIATE already, and it has no row locks."""
    if dialect_name(session) == "postgresql":
        await session.execute(_LOCK_CONVERSATION, {"conversation_id": conversation_id})


_CONVERSATIONS = cast(Table, Conversation.__table__)
_LOCK_CONVERSATION = (
    select(_CONVERSATIONS.c.id)
    .where(_CONVERSATIONS.c.id == bindparam("conversation_id", type_=Integer))
    .with_for_update(key_share=True)
)


async def recheck(
    session: AsyncSession, context: DraftContext, *, linked: Collection[int] = ()
) -> Recheck | None:
    """The facts read again, in one statement after `lock_conversation`; None when the
    conversation is gone. `linked`: products whose tracked link the reply may need."""
    products = sorted(linked)
    params = {
        "conversation_id": context.conversation.id,
        "reply_to": context.reply_to.id,
        **{f"product_{n}": pid for n, pid in enumerate(products)},
    }
    row = (await session.execute(_statement(len(products)), params)).one_or_none()
    if row is None:
        return None
    # An edit or an unsend while we drafted: the reply answers text that no longer exists.
    changed = row.edited_at != context.reply_to.edited_at or bool(row.deleted)
    found = {pid: getattr(row, f"token_{n}") for n, pid in enumerate(products)}
    return Recheck(
        drafted=bool(row.drafted),
        held=row.thread_owner_app_id is not None,
        opted_out=bool(row.opted_out),
        # A message may have arrived, or a person replied, while we drafted.
        stale=row.newest != context.reply_to.id or changed,
        told=bool(row.told),
        account_status=row.status,
        account_paused=bool(row.account_paused),
        conversation_paused=bool(row.is_paused),
        paused_until=row.paused_until,
        tokens={pid: token for pid, token in found.items() if token is not None},
    )


@functools.lru_cache(maxsize=16)
def _statement(links: int) -> Select[Any]:
    """The recheck for `links` tracked links, built once (bound parameters
    `conversation_id`, `reply_to`, `product_0`...): built per call, statement objects and
    their cache keys were most of the draft job's CPU."""
    conversation_id = bindparam("conversation_id", type_=Integer)
    reply_to = bindparam("reply_to", type_=Integer)
    live = exists().where(
        Draft.reply_to_message_id == reply_to, Draft.status != DraftStatus.SUPERSEDED
    )
    opted_out = select(Contact.opted_out_at.is_not(None)).where(
        Contact.id == Conversation.contact_id
    )
    newest = unanswered_statement(conversation_id).with_only_columns(func.max(Message.id))
    edited = select(Message.edited_at).where(Message.id == reply_to)
    deleted = select(Message.deleted_at.is_not(None)).where(Message.id == reply_to)
    tokens = [
        select(TrackedLink.token)
        .where(
            TrackedLink.conversation_id == conversation_id,
            TrackedLink.product_id == bindparam(f"product_{n}", type_=Integer),
        )
        .scalar_subquery()
        .label(f"token_{n}")
        for n in range(links)
    ]
    return (
        select(
            Conversation.thread_owner_app_id,
            Conversation.is_paused,
            Conversation.paused_until,
            Account.status,
            Account.is_paused.label("account_paused"),
            live.label("drafted"),
            opted_out.scalar_subquery().label("opted_out"),
            newest.scalar_subquery().label("newest"),
            edited.scalar_subquery().label("edited_at"),
            deleted.scalar_subquery().label("deleted"),
            told_already_statement(conversation_id).label("told"),
            *tokens,
        )
        .join(Account, Account.id == Conversation.account_id)
        .where(Conversation.id == conversation_id)
    )
