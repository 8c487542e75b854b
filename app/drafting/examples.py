"""Earlier replies a person approved, chosen as examples of the influencer's voice.

Only replies of the same account, decided by a person (not the automatic ones), in the
language the follower writes in. Among those: the same intent first, then replies a
person edited (their wording is the influencer's, not the model's), then the most
similar earlier question, then the most recent. Each is scrubbed of the other
follower's personal data (`app.drafting.scrub`) and carries what it was about (intent,
product names), never the other follower's message.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from rapidfuzz import fuzz
from sqlalchemy import Integer, Select, String, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import utc_now
from app.core.text import normalise
from app.drafting.base import DraftRequest, VoiceExample
from app.drafting.intents import classify_intent
from app.drafting.offline import reply_language
from app.drafting.scrub import scrub
from app.models import SENT_ALONE, Contact, Conversation, Draft, Message

EXAMPLE_LIMIT = 3
# The most recent approved replies read per draft, ranked in Python: one bounded query
# on the partial index ix_drafts_person_decided (account_id, language, created_at).
POOL_LIMIT = 100
# Older replies are not read: the voice drifts.
MAX_AGE = timedelta(days=180)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One approved reply as read from the database, before it is scrubbed."""

    intent: str
    language: str
    text: str  # what the drafter wrote
    final_text: str | None  # what the person approved
    product_ids: tuple[int, ...]
    created_at: datetime
    follower_text: str  # compared for similarity only; never shown to the model
    names: tuple[str, ...]  # the other follower's name and username

    @property
    def reply(self) -> str:
        return (self.final_text or self.text).strip()

    @property
    def edited(self) -> bool:
        return self.final_text is not None and self.final_text.strip() != self.text.strip()


def similarity(a: str, b: str) -> float:
    """0..1, word overlap of two messages, tolerant of word order and small typos."""
    return float(fuzz.token_set_ratio(normalise(a), normalise(b))) / 100


def choose(
    candidates: Sequence[Candidate],
    *,
    intent: str,
    language: str,
    text: str,
    limit: int = EXAMPLE_LIMIT,
) -> list[Candidate]:
    """The best `limit` candidates in `language`, in the order described above; one per
    distinct reply (nineteen approvals of one answer teach nothing eighteen times)."""

    def rank(candidate: Candidate) -> tuple[bool, bool, float, datetime]:
        # Similarity in tenths: near-equal questions are ordered by recency.
        close = round(similarity(candidate.follower_text, text), 1)
        return (candidate.intent == intent, candidate.edited, close, candidate.created_at)

    ranked = sorted(
        (c for c in candidates if c.language == language and c.reply),
        key=rank,
        reverse=True,
    )
    chosen: list[Candidate] = []
    seen: set[str] = set()
    for candidate in ranked:
        key = normalise(candidate.reply)
        if key in seen:
            continue
        seen.add(key)
        chosen.append(candidate)
        if len(chosen) == limit:
            break
    return chosen


def to_example(
    candidate: Candidate, *, allowed_urls: Collection[str], product_names: Mapping[int, str]
) -> VoiceExample:
    return VoiceExample(
        intent=candidate.intent,
        language=candidate.language,
        products=tuple(
            dict.fromkeys(product_names[i] for i in candidate.product_ids if i in product_names)
        ),
        reply=scrub(candidate.reply, names=candidate.names, allowed_urls=allowed_urls),
        edited=candidate.edited,
    )


async def approved_candidates(
    session: AsyncSession, *, account_id: int, conversation_id: int, language: str
) -> list[Candidate]:
    """The account's most recent person-approved replies in `language`, other
    conversations only (this one's are in the history already). One query."""
    rows = await session.execute(
        _candidates_statement(),
        {
            "account_id": account_id,
            "conversation_id": conversation_id,
            "language": language,
            "since": utc_now() - MAX_AGE,
        },
    )
    return [
        Candidate(
            intent=row[0],
            language=row[1],
            text=row[2],
            final_text=row[3],
            product_ids=tuple(int(i) for i in row[4] or () if isinstance(i, int)),
            created_at=row[5],
            follower_text=row[6] or "",
            names=tuple(name for name in (row[7], row[8]) if name),
        )
        for row in rows.all()
    ]


@functools.cache
def _candidates_statement() -> Select[Any]:
    """`approved_candidates`' query, built once (every draft reads it)."""
    return (
        select(
            Draft.intent,
            Draft.language,
            Draft.text,
            Draft.final_text,
            Draft.product_ids,
            Draft.created_at,
            Message.text,
            Contact.name,
            Contact.username,
        )
        .join(Conversation, Conversation.id == Draft.conversation_id)
        .join(Contact, Contact.id == Conversation.contact_id)
        .outerjoin(Message, Message.id == Draft.reply_to_message_id)
        .where(
            Draft.account_id == bindparam("account_id", type_=Integer),
            Draft.created_at >= bindparam("since"),
            Draft.conversation_id != bindparam("conversation_id", type_=Integer),
            Draft.decided_by_user_id.is_not(None),
            Draft.status.in_(SENT_ALONE),
            Draft.language == bindparam("language", type_=String),
        )
        .order_by(Draft.created_at.desc(), Draft.id.desc())
        .limit(POOL_LIMIT)
    )


def wanted(request: DraftRequest) -> tuple[str, str]:
    """(intent, language) the examples should have: what our own code reads in the
    follower's message, as the model's answer is not known yet."""
    return classify_intent(request.follower_text), reply_language(request)


def examples_for(
    request: DraftRequest, candidates: Sequence[Candidate], *, product_names: Mapping[int, str]
) -> tuple[VoiceExample, ...]:
    """Up to EXAMPLE_LIMIT scrubbed examples for `request`; the links of its retrieved
    products are the only ones an example may keep."""
    intent, language = wanted(request)
    chosen = choose(candidates, intent=intent, language=language, text=request.follower_text)
    allowed = [m.product.url for m in request.products if m.product.url]
    names = {m.product.id: m.product.name for m in request.products} | dict(product_names)
    return tuple(to_example(c, allowed_urls=allowed, product_names=names) for c in chosen)
