"""What the drafter needs, read from the database in one short transaction."""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import structlog
from numpy.typing import NDArray
from sqlalchemy import BindParameter, Integer, Select, bindparam, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.conversations.answered import ConversationId, thread_for_reply, thread_statement
from app.conversations.repository import recent_statement
from app.core.clock import utc_now
from app.drafting.base import DraftRequest, ProductMatch, Turn, VoiceExample
from app.drafting.catalog_index import (
    CatalogIndexes,
    catalog_version,
    catalog_version_columns,
    load_index,
)
from app.drafting.examples import approved_candidates, examples_for, wanted
from app.drafting.retrieval import Query, retrieve_in
from app.models import Account, Conversation, Draft, Message
from app.ops.metrics import DRAFTS_OUTSIDE_WINDOW
from app.outbox.compose import CatalogLink
from app.outbox.service import MESSAGING_WINDOW

log = structlog.get_logger("app.drafting")

HISTORY_LIMIT = 12
# A follower who wrote more than this since the last answer: the draft reads the newest
# ones and still answers (covers) them all.
UNANSWERED_LIMIT = 20


@dataclass(frozen=True, slots=True)
class DraftContext:
    account: Account
    conversation: Conversation
    reply_to: Message  # the unanswered message that reached us last; the draft covers it
    request: DraftRequest
    products: tuple[ProductMatch, ...]
    auto_replies_today: int
    # The account's products as composing a reply needs them, when read with the context
    # (None: composing reads them).
    catalog: tuple[CatalogLink, ...] | None = None
    spent_today: Decimal | None = None  # the account's LLM spending today, when asked


def describe_message(message: Message) -> str:
    """A message as the drafter reads it: its text, else what it carries."""
    if message.text:
        return message.text
    kinds = [a.get("type", "attachment") for a in message.payload.get("attachments", [])]
    return f"[{', '.join(kinds) or message.kind}]"


async def _history_and_unanswered(
    session: AsyncSession, conversation_id: int
) -> tuple[list[Message], list[Message]]:
    """(history, unanswered), both in the order the follower wrote them (Meta's time).
    What is unanswered is decided by what replies covered (app.conversations.answered);
    the history is the rest of the recent thread. One query."""
    messages, waiting = await thread_for_reply(
        session, _thread_statement(), {"conversation_id": conversation_id}
    )
    # What the recent query alone returns, then the unanswered ones beyond it.
    shown = sorted(messages, key=lambda m: (m.sent_at, m.id))[-(HISTORY_LIMIT + UNANSWERED_LIMIT) :]
    history = [m for m in shown if m.id not in waiting]
    unanswered = [m for m in messages if m.id in waiting]
    return history, sorted(unanswered, key=lambda m: (m.sent_at, m.id))


def _outside_window(conversation: Conversation, unanswered: list[Message], latest: Message) -> bool:
    """True (and recorded) when no reply could go out any more: Meta's 24 hours run from
    when the follower wrote, their newest unanswered message or any later input that
    opened the window again (what the outbox checks before a send). No LLM call and no
    draft then; the messages stay unanswered for a person, who may still answer under
    Meta's Human Agent rules."""
    opened = max(m.sent_at for m in unanswered)
    if conversation.last_inbound_at is not None:
        opened = max(opened, conversation.last_inbound_at)
    age = utc_now() - opened
    if age <= MESSAGING_WINDOW:
        return False
    DRAFTS_OUTSIDE_WINDOW.inc()
    log.info(
        "drafting.outside_window",
        conversation_id=conversation.id,
        message_id=latest.id,
        unanswered=len(unanswered),
        hours_since_follower_wrote=round(age.total_seconds() / 3600, 1),
    )
    return True


@dataclass(frozen=True, slots=True)
class _Head:
    conversation: Conversation
    account: Account
    auto_replies_today: int
    spent_today: Decimal | None
    catalog_version: tuple[object, ...]


async def _head(
    session: AsyncSession, conversation_id: int, *, spent_since: datetime | None
) -> _Head | None:
    """The conversation and its account, with the figures a draft needs of them, in one
    statement: automatic replies in the last 24 hours (the daily limit), the LLM spending
    since `spent_since` (None: not needed) and the catalog's version."""
    params: dict[str, Any] = {
        "conversation_id": conversation_id,
        "day_ago": utc_now() - timedelta(days=1),
    }
    if spent_since is not None:
        params["spent_since"] = spent_since
    row = (
        await session.execute(_head_statement(spending=spent_since is not None), params)
    ).one_or_none()
    if row is None:
        return None
    conversation, account, auto_today, spent_today, *version = row
    return _Head(
        conversation,
        account,
        int(auto_today or 0),
        None if spent_since is None else Decimal(spent_today or 0),
        catalog_version(version),
    )


async def load_context(
    session: AsyncSession,
    conversation_id: int,
    *,
    indexes: CatalogIndexes | None = None,
    vector: NDArray[np.float32] | None = None,
    spent_since: datetime | None = None,
) -> DraftContext | None:
    """None when there is nothing to answer (every follower message is covered already),
    or when Meta's window to answer has closed (see `_outside_window`).
    `vector` is the unanswered text embedded by EMBEDDING_MODEL, for semantic retrieval;
    with `spent_since`, the context carries the account's LLM spending since then."""
    head = await _head(session, conversation_id, spent_since=spent_since)
    if head is None:
        return None
    conversation, account = head.conversation, head.account
    history, unanswered = await _history_and_unanswered(session, conversation_id)
    if not unanswered:
        return None
    # The draft covers every unanswered message: it replies to the newest one to reach us.
    latest = max(unanswered, key=lambda m: m.id)
    if _outside_window(conversation, unanswered, latest):
        return None
    if indexes is not None:
        index = await indexes.current(session, account.id, head.catalog_version)
    else:
        index = await load_index(session, account.id)
    follower_text = "\n".join(describe_message(m) for m in unanswered)
    today = utc_now().date()
    earlier = [describe_message(m) for m in history[-HISTORY_LIMIT:]]
    story_id = next(
        (
            m.payload.get("reply_to_story_id")
            for m in reversed(unanswered)
            if m.payload.get("reply_to_story_id")
        ),
        None,
    )
    query = Query(follower_text, earlier, today, vector, story_id)
    products = tuple(await retrieve_in(session, index, account.id, query, limit=3))
    request = DraftRequest(
        account_name=account.name,
        platform=account.platform,
        persona=account.persona,
        languages=tuple(account.languages or ()),
        history=tuple(Turn(m.author, describe_message(m)) for m in history[-HISTORY_LIMIT:]),
        follower_text=follower_text,
        products=products,
        today=today,
    )
    names = {e.product_id: e.name for e in index.entries}
    request = replace(request, examples=await _examples(session, request, conversation, names))
    return DraftContext(
        account,
        conversation,
        latest,
        request,
        products,
        head.auto_replies_today,
        catalog=index.links if index.trusted else None,
        spent_today=head.spent_today,
    )


def auto_replies_statement(
    conversation_id: ConversationId, *, since: datetime | BindParameter[datetime] | None = None
) -> Select[int]:
    """Drafts of the conversation decided `auto` since `since` (default: the last 24 hours,
    the daily limit)."""
    return select(func.count(Draft.id)).where(
        Draft.conversation_id == conversation_id,
        Draft.decision == "auto",
        Draft.created_at >= (utc_now() - timedelta(days=1) if since is None else since),
    )


# The draft job's two reads, built once (bound parameters): built per call, statement
# objects and their cache keys were most of the draft's CPU (issue 15).
@functools.cache
def _head_statement(*, spending: bool) -> Select[Any]:
    """`_head`'s statement; parameters `conversation_id`, `day_ago` and, with
    `spending`, `spent_since`."""
    conversation_id = bindparam("conversation_id", type_=Integer)
    spent = (
        select(func.coalesce(func.sum(Draft.llm_cost_usd), 0))
        .where(
            Draft.account_id == Conversation.account_id,
            Draft.created_at >= bindparam("spent_since"),
        )
        .scalar_subquery()
        if spending
        else literal(None)
    )
    return (
        select(
            Conversation,
            Account,
            auto_replies_statement(conversation_id, since=bindparam("day_ago")).scalar_subquery(),
            spent,
            *catalog_version_columns(Conversation.account_id),
        )
        .join(Account, Account.id == Conversation.account_id)
        .where(Conversation.id == conversation_id)
    )


@functools.cache
def _thread_statement() -> Select[Message, bool]:
    """`_history_and_unanswered`'s statement; parameter `conversation_id`."""
    conversation_id = bindparam("conversation_id", type_=Integer)
    recent = recent_statement(conversation_id, limit=HISTORY_LIMIT + UNANSWERED_LIMIT)
    return thread_statement(conversation_id, recent=recent, unanswered=UNANSWERED_LIMIT)


async def auto_replies_today(session: AsyncSession, conversation_id: int) -> int:
    """Drafts of the conversation decided `auto` in the last 24 hours (the daily limit)."""
    return int(await session.scalar(auto_replies_statement(conversation_id)) or 0)


async def voice_examples(
    session: AsyncSession,
    request: DraftRequest,
    conversation: Conversation,
    *,
    indexes: CatalogIndexes | None,
) -> tuple[VoiceExample, ...]:
    """Approved replies of the account for the voice, in the language and for the intent
    our own code reads in the follower's message (the model's are not known yet)."""
    names: dict[int, str] = {}
    if indexes is not None:
        index = await indexes.get(session, conversation.account_id)  # cached: rarely a query
        names = {e.product_id: e.name for e in index.entries}
    return await _examples(session, request, conversation, names)


async def _examples(
    session: AsyncSession, request: DraftRequest, conversation: Conversation, names: dict[int, str]
) -> tuple[VoiceExample, ...]:
    candidates = await approved_candidates(
        session,
        account_id=conversation.account_id,
        conversation_id=conversation.id,
        language=wanted(request)[1],
    )
    return examples_for(request, candidates, product_names=names)
