"""What the drafter needs for a comment's private reply, read in one short transaction.

Built like a DM's (`app.drafting.context.load_context`): the comment's text is the
follower's message, the commenter's thread so far is the history. The products: the
trigger's product as the only match (score 1.0) when it names one, else retrieval on the
comment's text (the post's own cooperation first, through its `platform_posts`).

With a product trigger, the influencer's rule says what the comment asks for: a comment
whose words are only the keywords, filler, warm emoji, greetings or thanks asks for that
product's code and link. Anything else in it (a question, a complaint, a word the
recogniser does not know) goes through the normal recogniser and sensitivity check.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from app.comments.matching import remainder
from app.conversations.repository import recent_messages
from app.core.clock import utc_now
from app.drafting.base import DraftRequest, ProductMatch, Turn
from app.drafting.catalog_index import CatalogIndexes
from app.drafting.context import (
    HISTORY_LIMIT,
    auto_replies_today,
    describe_message,
    voice_examples,
)
from app.drafting.retrieval import retrieve
from app.models import (
    Account,
    CommentReply,
    CommentTrigger,
    Conversation,
    Cooperation,
    Message,
    Product,
)
from app.policy.lexicon import Ask
from app.policy.recognise import NOTHING_ASKED, Recognition, recognise

SITUATION = (
    "The follower wrote this as a public comment under one of {account}'s posts. Your reply "
    "goes to them as a private message; they may not follow {account}."
)
SITUATION_PRODUCT = (
    " {account}'s rule for this post: a comment with these words asks for the code and the "
    "link of the catalog product."
)
# What a comment of the trigger's keywords alone asks for.
KEYWORD_ASKS = frozenset({Ask.CODE, Ask.LINK})


@dataclass(frozen=True, slots=True)
class CommentContext:
    account: Account
    conversation: Conversation
    comment: Message  # the comment's entry: the draft replies to it
    reply: CommentReply
    request: DraftRequest
    auto_replies_today: int


def keyword_recognition(
    text: str, keywords: list[str], match: ProductMatch, *, account_name: str, today: date
) -> Recognition | None:
    """The trigger's reading of a comment that is only its keywords (and harmless words
    around them): it asks for the product's code and link. None: read it as any message."""
    left = remainder(text, keywords)
    small_talk: frozenset[Ask] = frozenset()
    if left:
        rest = recognise(left, [match], account_name=account_name, today=today)
        if rest.asks or not (rest.recognised or rest.problem == NOTHING_ASKED):
            return None
        small_talk = rest.small_talk
    return Recognition(asks=KEYWORD_ASKS, subject=(match.product.id,), small_talk=small_talk)


async def load_comment_context(
    session: AsyncSession, reply_id: int, *, indexes: CatalogIndexes | None = None
) -> CommentContext | None:
    """None when the comment needs no draft (any more): handled already, or unsent."""
    reply = await session.get(CommentReply, reply_id)
    if reply is None or reply.status != "waiting":
        return None
    comment = None if reply.message_id is None else await session.get(Message, reply.message_id)
    if comment is None or comment.deleted_at is not None:
        reply.status, reply.skip_reason = "skipped", "comment_deleted"
        return None
    conversation = await session.get(Conversation, reply.conversation_id)
    account = await session.get(Account, reply.account_id)
    assert conversation is not None
    assert account is not None
    trigger = (
        None if reply.trigger_id is None else await session.get(CommentTrigger, reply.trigger_id)
    )
    request = await _request(session, account, comment, reply, trigger, indexes=indexes)
    request = replace(
        request, examples=await voice_examples(session, request, conversation, indexes=indexes)
    )
    return CommentContext(
        account,
        conversation,
        comment,
        reply,
        request,
        await auto_replies_today(session, conversation.id),
    )


async def _request(
    session: AsyncSession,
    account: Account,
    comment: Message,
    reply: CommentReply,
    trigger: CommentTrigger | None,
    *,
    indexes: CatalogIndexes | None,
) -> DraftRequest:
    text = comment.text or ""
    today = utc_now().date()
    history = await _history(session, comment)
    match = await _trigger_product(session, trigger)
    if match is not None:
        products: tuple[ProductMatch, ...] = (match,)
    else:
        products = tuple(
            await retrieve(
                session,
                account_id=account.id,
                text=text,
                limit=3,
                today=today,
                earlier=[turn.text for turn in history],
                indexes=indexes,
                story_id=reply.media_id,
            )
        )
    recognition = None
    if match is not None and trigger is not None:
        recognition = keyword_recognition(
            text, list(trigger.keywords), match, account_name=account.name, today=today
        )
    situation = SITUATION + (SITUATION_PRODUCT if recognition is not None else "")
    return DraftRequest(
        account_name=account.name,
        platform=account.platform,
        persona=account.persona,
        languages=tuple(account.languages or ()),
        history=history,
        follower_text=text,
        products=products,
        today=today,
        situation=situation.format(account=account.name),
        recognition=recognition,
    )


async def _trigger_product(
    session: AsyncSession, trigger: CommentTrigger | None
) -> ProductMatch | None:
    if trigger is None or trigger.product_id is None:
        return None
    product = await session.get(Product, trigger.product_id)
    if product is None or not product.is_active:
        return None
    cooperation = await session.get(Cooperation, product.cooperation_id)
    assert cooperation is not None
    return ProductMatch(product=product, cooperation=cooperation, score=1.0, matched_on="trigger")


async def _history(session: AsyncSession, comment: Message) -> tuple[Turn, ...]:
    """The commenter's thread before the comment, oldest first."""
    rows = await recent_messages(
        session, comment.conversation_id, limit=HISTORY_LIMIT, before_id=comment.id
    )
    return tuple(Turn(m.author, describe_message(m)) for m in rows)
