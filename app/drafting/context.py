"""What the drafter needs, read from the database in one short transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import utc_now
from app.drafting.base import DraftRequest, ProductMatch, Turn
from app.drafting.catalog_index import CatalogIndexes
from app.drafting.retrieval import retrieve
from app.models import Account, Conversation, Draft, Message

HISTORY_LIMIT = 12
ANSWERABLE_KINDS = {"text", "attachment", "postback", "unsupported"}


@dataclass(frozen=True, slots=True)
class DraftContext:
    account: Account
    conversation: Conversation
    reply_to: Message  # the follower's latest unanswered message
    request: DraftRequest
    products: tuple[ProductMatch, ...]
    auto_replies_today: int


def _describe(message: Message) -> str:
    if message.text:
        return message.text
    kinds = [a.get("type", "attachment") for a in message.payload.get("attachments", [])]
    return f"[{', '.join(kinds) or message.kind}]"


async def _recent_messages(session: AsyncSession, conversation_id: int) -> list[Message]:
    rows = await session.scalars(
        select(Message)
        .where(Message.conversation_id == conversation_id)
        .order_by(Message.sent_at.desc(), Message.id.desc())
        .limit(HISTORY_LIMIT + 8)
    )
    return list(reversed(rows.all()))


def _split_unanswered(messages: list[Message]) -> tuple[list[Message], list[Message]]:
    """(history, unanswered): the follower's messages after our or anyone's last reply."""
    cut = len(messages)
    while cut > 0 and messages[cut - 1].direction == "in":
        cut -= 1
    unanswered = [
        m for m in messages[cut:] if m.author == "follower" and m.kind in ANSWERABLE_KINDS
    ]
    return messages[:cut], unanswered


async def load_context(
    session: AsyncSession,
    conversation_id: int,
    *,
    indexes: CatalogIndexes | None = None,
    vector: NDArray[np.float32] | None = None,
) -> DraftContext | None:
    """None when there is nothing to answer, or the latest message has a draft already.
    `vector` is the unanswered text embedded by EMBEDDING_MODEL, for semantic retrieval."""
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        return None
    account = await session.get(Account, conversation.account_id)
    assert account is not None
    history, unanswered = _split_unanswered(await _recent_messages(session, conversation_id))
    if not unanswered:
        return None
    latest = unanswered[-1]
    if await has_live_draft(session, latest.id):
        return None
    follower_text = "\n".join(_describe(m) for m in unanswered)
    today = utc_now().date()
    earlier = [_describe(m) for m in history[-HISTORY_LIMIT:]]
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
        history=tuple(Turn(m.author, _describe(m)) for m in history[-HISTORY_LIMIT:]),
        follower_text=follower_text,
        products=products,
        today=today,
    )
    auto_today = await session.scalar(
        select(func.count(Draft.id)).where(
            Draft.conversation_id == conversation_id,
            Draft.decision == "auto",
            Draft.created_at >= utc_now() - timedelta(days=1),
        )
    )
    return DraftContext(account, conversation, latest, request, products, int(auto_today or 0))


async def has_live_draft(session: AsyncSession, message_id: int) -> bool:
    """A draft answers this message and was not replaced (an edit supersedes it)."""
    found = await session.scalar(
        select(Draft.id).where(
            Draft.reply_to_message_id == message_id, Draft.status != "superseded"
        )
    )
    return found is not None


async def latest_follower_message_id(session: AsyncSession, conversation_id: int) -> int | None:
    _history, unanswered = _split_unanswered(await _recent_messages(session, conversation_id))
    return unanswered[-1].id if unanswered else None
