"""Find the catalog products a follower's message is about.

The ranking itself lives in `catalog_index` (an in-memory index per account, kept by
`CatalogIndexes`); this module turns its results into `ProductMatch`es, falls back to
the earlier turns of the conversation for follow-ups ("and the link?"), and loads what
it found from the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.drafting.base import ProductMatch
from app.drafting.catalog_index import (
    MIN_SCORE,
    CatalogIndex,
    CatalogIndexes,
    Scored,
    build_index,
    load_index,
)
from app.models import Cooperation, Product
from app.policy.recognise import only_small_talk

__all__ = ["MIN_SCORE", "Query", "rank_in_conversation", "rank_products", "retrieve_in"]

# A follow-up names no product: look back this many turns, and trust it this much less.
FOLLOW_UP_TURNS = 3
FOLLOW_UP_FACTOR = 0.9


@dataclass(frozen=True, slots=True)
class Query:
    """What the follower wrote, what came before, and what else points at a product."""

    text: str
    earlier: Sequence[str] = ()
    today: date | None = None
    vector: NDArray[np.float32] | None = None  # the text embedded by EMBEDDING_MODEL
    story_id: str | None = None  # the story the follower replied to


def rank(index: CatalogIndex, query: Query, limit: int = 3) -> list[Scored]:
    """The best matches of the message; when it names no product, those of the last few
    earlier turns, a little less sure."""
    found = index.rank(
        query.text,
        limit,
        today=query.today,
        query_vector=query.vector,
        story_id=query.story_id,
    )
    if found or only_small_talk(query.text):
        return found  # "thanks!" after a conversation about a product asks about nothing
    # The newest turn that names a product is what "and the price?" refers to: our last
    # answer named one product, even if the follower's question before it fitted several.
    for turn in reversed(query.earlier[-FOLLOW_UP_TURNS:]):
        if found:
            break
        found = [
            Scored(m.entry, round(m.score * FOLLOW_UP_FACTOR, 4), "conversation")
            for m in index.rank(turn, limit, today=query.today)
        ]
    return found


def _matches(
    scored: Sequence[Scored], objects: dict[int, tuple[Product, Cooperation]]
) -> list[ProductMatch]:
    return [
        ProductMatch(
            product=objects[s.entry.product_id][0],
            cooperation=objects[s.entry.product_id][1],
            score=s.score,
            matched_on=s.matched_on,
        )
        for s in scored
        if s.entry.product_id in objects
    ]


def rank_products(
    text: str,
    candidates: Sequence[tuple[Product, Cooperation]],
    limit: int = 3,
    *,
    today: date | None = None,
) -> list[ProductMatch]:
    """The products among `candidates` that `text` is about, best first, each scored
    0..1; matches below MIN_SCORE are dropped, so small talk returns an empty list."""
    return rank_in_conversation(text, (), candidates, limit, today=today)


def rank_in_conversation(
    text: str,
    earlier: Sequence[str],
    candidates: Sequence[tuple[Product, Cooperation]],
    limit: int = 3,
    *,
    today: date | None = None,
) -> list[ProductMatch]:
    """Like `rank_products`, falling back to the earlier turns for follow-ups."""
    objects = {product.id: (product, cooperation) for product, cooperation in candidates}
    scored = rank(build_index(candidates), Query(text, earlier, today), limit)
    return _matches(scored, objects)


async def retrieve(
    session: AsyncSession,
    *,
    account_id: int,
    text: str,
    limit: int = 3,
    today: date | None = None,
    earlier: Sequence[str] = (),
    indexes: CatalogIndexes | None = None,
    vector: NDArray[np.float32] | None = None,
    story_id: str | None = None,
) -> list[ProductMatch]:
    """The account's active products the message is about: ranked on the account's
    cached index (or a fresh one), then only those loaded from the database."""
    if indexes is None:
        index = await load_index(session, account_id)
    else:
        index = await indexes.get(session, account_id)
    scored = rank(index, Query(text, earlier, today, vector, story_id), limit)
    return await _load(session, account_id, scored)


async def retrieve_in(
    session: AsyncSession, index: CatalogIndex, account_id: int, query: Query, limit: int = 3
) -> list[ProductMatch]:
    """`retrieve` on an index whose version the caller read now: its own rows when it
    holds every write up to that version (`CatalogIndex.trusted`), else read fresh."""
    scored = rank(index, query, limit)
    if index.trusted:
        return _matches(scored, index.rows)
    return await _load(session, account_id, scored)


async def _load(
    session: AsyncSession, account_id: int, scored: Sequence[Scored]
) -> list[ProductMatch]:
    if not scored:
        return []
    rows = await session.execute(
        select(Product, Cooperation)
        .join(Cooperation, Product.cooperation_id == Cooperation.id)
        .where(
            Product.id.in_([s.entry.product_id for s in scored]),
            Product.account_id == account_id,
            Product.is_active.is_(True),
        )
    )
    objects = {product.id: (product, cooperation) for product, cooperation in rows.all()}
    return _matches(scored, objects)
