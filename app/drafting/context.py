"""What the drafter needs, read from the database in one short transaction."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

import numpy as np
import structlog
from numpy.typing import NDArray
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.conversations.answered import unanswered_messages
from app.conversations.repository import recent_messages
from app.core.clock import utc_now
from app.drafting.base import DraftRequest, ProductMatch, Turn, VoiceExample
from app.drafting.catalog_index import CatalogIndexes
from app.drafting.examples import approved_candidates, examples_for, wanted
from app.drafting.retrieval import retrieve
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
    the history is the rest of the recent thread."""
    unanswered = await unanswered_messages(session, conversation_id, limit=UNANSWERED_LIMIT)
    waiting = {m.id for m in unanswered}
    recent = await recent_messages(session, conversation_id, limit=HISTORY_LIMIT + UNANSWERED_LIMIT)
    history = [m for m in recent if m.id not in waiting]
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


async def load_context(
    session: AsyncSession,
    conversation_id: int,
    *,
    indexes: CatalogIndexes | None = None,
    vector: NDArray[np.float32] | None = None,
) -> DraftContext | None:
    """None when there is nothing to answer (every follower message is covered already),
    or when Meta's window to answer has closed (see `_outside_window`).
    `vector` is the unanswered text embedded by EMBEDDING_MODEL, for semantic retrieval."""
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        return None
    account = await session.get(Account, conversation.account_id)
    assert account is not None
    history, unanswered = await _history_and_unanswered(session, conversation_id)
    if not unanswered:
        return None
    # The draft covers every unanswered message: it replies to the newest one to reach us.
    latest = max(unanswered, key=lambda m: m.id)
    if _outside_window(conversation, unanswered, latest):
        return None
    follower_text = "\n".join(describe_message(m) for m in unanswered)
    today = utc_now().date()
    earlier = [describe_message(m) for m in history[-HISTORY_LIMIT:]]
    products = tuple(
        await retrieve(
            session,
            account_id=account.id,
            text=follower_text,
            limit=3,
            today=today,
            earlier=earlier,
            indexes=indexes,
            vector=vector,
            story_id=next(
                (
                    m.payload.get("reply_to_story_id")
                    for m in reversed(unanswered)
                    if m.payload.get("reply_to_story_id")
                ),
                None,
            ),
        )
    )
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
    request = replace(
        request, examples=await voice_examples(session, request, conversation, indexes=indexes)
    )
    auto_today = await auto_replies_today(session, conversation_id)
    return DraftContext(account, conversation, latest, request, products, auto_today)


async def auto_replies_today(session: AsyncSession, conversation_id: int) -> int:
    """Drafts of the conversation decided `auto` in the last 24 hours (the daily limit)."""
    count = await session.scalar(
        select(func.count(Draft.id)).where(
            Draft.conversation_id == conversation_id,
            Draft.decision == "auto",
            Draft.created_at >= utc_now() - timedelta(days=1),
        )
    )
    return int(count or 0)


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
    candidates = await approved_candidates(
        session,
        account_id=conversation.account_id,
        conversation_id=conversation.id,
        language=wanted(request)[1],
    )
    return examples_for(request, candidates, product_names=names)
