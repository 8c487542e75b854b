"""The periodic job that keeps product vectors current: each active product's text
(brand, name, aliases, description) embedded by the runtime's embedder and stored in
`product_embeddings` (float32 bytes), for the catalog index to score in memory
(app/drafting/embeddings.py, catalog_index.py). A product whose text did not change keeps
its vector; a batch per call to the embeddings server, a short transaction per batch,
never a transaction open during a call.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import structlog
from numpy.typing import NDArray
from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.clock import utc_now
from app.core.db import unit_of_work
from app.drafting.embeddings import Embedder
from app.models import Cooperation, Product, ProductEmbedding

Sessions = async_sessionmaker[AsyncSession]

log = structlog.get_logger("app.drafting.embeddings")

EMBED_EVERY_SECONDS = 30.0
BATCH = 64
MAX_PER_RUN = 2048


def product_text(product: Product, cooperation: Cooperation) -> str:
    """What a product's vector is computed from."""
    aliases = ", ".join(str(a) for a in product.aliases or ())
    return "\n".join(
        part
        for part in (f"{cooperation.brand}: {product.name}", aliases, product.description)
        if part
    )


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class _Pending:
    product_id: int
    account_id: int
    text: str


async def _stale(sessions: Sessions, model: str, limit: int) -> list[_Pending]:
    """Products without a current vector; touches those whose text did not change."""
    async with unit_of_work(sessions) as session:
        rows = (
            await session.execute(
                select(Product, Cooperation, ProductEmbedding)
                .join(Cooperation, Product.cooperation_id == Cooperation.id)
                .outerjoin(ProductEmbedding, ProductEmbedding.product_id == Product.id)
                .where(
                    Product.is_active.is_(True),
                    or_(
                        ProductEmbedding.product_id.is_(None),
                        ProductEmbedding.model != model,
                        Product.updated_at > ProductEmbedding.updated_at,
                        Cooperation.updated_at > ProductEmbedding.updated_at,
                    ),
                )
                .order_by(Product.id)
                .limit(limit)
            )
        ).all()
        pending: list[_Pending] = []
        unchanged: list[int] = []
        for product, cooperation, embedding in rows:
            text = product_text(product, cooperation)
            if (
                embedding is not None
                and embedding.model == model
                and embedding.text_hash == text_hash(text)
            ):
                unchanged.append(product.id)
            else:
                pending.append(_Pending(product.id, product.account_id, text))
        if unchanged:
            await session.execute(
                update(ProductEmbedding)
                .where(ProductEmbedding.product_id.in_(unchanged))
                .values(updated_at=utc_now())
            )
        return pending


async def _store(
    sessions: Sessions,
    model: str,
    batch: Sequence[_Pending],
    vectors: Sequence[NDArray[np.float32]],
) -> None:
    async with unit_of_work(sessions) as session:
        ids = [item.product_id for item in batch]
        still_there = set(
            (await session.scalars(select(Product.id).where(Product.id.in_(ids)))).all()
        )
        await session.execute(delete(ProductEmbedding).where(ProductEmbedding.product_id.in_(ids)))
        session.add_all(
            ProductEmbedding(
                product_id=item.product_id,
                account_id=item.account_id,
                model=model,
                text_hash=text_hash(item.text),
                dimensions=int(vector.shape[0]),
                vector=vector.astype("<f4").tobytes(),
            )
            for item, vector in zip(batch, vectors, strict=True)
            if item.product_id in still_there
        )


async def embed_catalog(sessions: Sessions, embedder: Embedder) -> None:
    """The periodic job's body: embed new and changed products, a batch per call to the
    server and a short transaction per batch, never holding a transaction during a call."""
    done = 0
    while done < MAX_PER_RUN:
        pending = await _stale(sessions, embedder.model, BATCH)
        if not pending:
            break
        vectors = await embedder.embed([item.text for item in pending])
        await _store(sessions, embedder.model, pending, vectors)
        done += len(pending)
    if done:
        log.info("embeddings.stored", products=done, model=embedder.model)
