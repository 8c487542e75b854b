"""Semantic retrieval: products and messages embedded by EMBEDDING_MODEL through the
OpenAI-compatible `/embeddings` endpoint (OpenAI, Azure, vLLM, Ollama, LiteLLM...).

Product vectors are stored in `product_embeddings` (float32 bytes) by a periodic job
and scored in memory by the account's catalog index: one account's catalog of up to
tens of thousands of products is a matrix of a few megabytes and one matrix-vector
product, so it needs no vector extension in the database and works the same on SQLite
and PostgreSQL. A failing embeddings server never blocks a draft: retrieval falls back
to words alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
import numpy as np
import openai
import structlog
from numpy.typing import NDArray
from openai import AsyncOpenAI
from sqlalchemy import delete, or_, select, update

from app.config import Settings
from app.core.clock import utc_now
from app.core.db import unit_of_work
from app.drafting.llm import create_openai_client
from app.models import Cooperation, Job, Product, ProductEmbedding

if TYPE_CHECKING:  # the runtime holds the embedder: import it for types only
    from app.runtime import Runtime

log = structlog.get_logger("app.drafting.embeddings")

EMBED_JOB = "catalog.embed"
EMBED_EVERY_SECONDS = 30.0
BATCH = 64
MAX_PER_RUN = 2048
MAX_INPUT_CHARS = 2000


class EmbeddingError(Exception):
    """The embeddings server failed or answered something unusable."""


class Embedder:
    def __init__(self, client: AsyncOpenAI, model: str) -> None:
        self.client = client
        self.model = model

    async def embed(self, texts: Sequence[str]) -> list[NDArray[np.float32]]:
        try:
            response = await self.client.embeddings.create(
                model=self.model,
                input=[text[:MAX_INPUT_CHARS] or " " for text in texts],
                encoding_format="float",
            )
        except (openai.OpenAIError, httpx.HTTPError) as exc:
            raise EmbeddingError(f"{type(exc).__name__}: {exc}") from exc
        ordered = sorted(response.data, key=lambda item: item.index)
        vectors = [np.asarray(item.embedding, dtype=np.float32) for item in ordered]
        if len(vectors) != len(texts) or len({v.shape for v in vectors}) > 1:
            raise EmbeddingError("the embeddings server answered a different number or shape")
        return vectors

    async def embed_query(self, text: str) -> NDArray[np.float32] | None:
        """The message's vector, or None (logged) when the server fails: words still work."""
        try:
            [vector] = await self.embed([text])
        except EmbeddingError as exc:
            log.warning("embeddings.query_failed", model=self.model, error=str(exc))
            return None
        return vector


def create_embedder(settings: Settings, http_client: httpx.AsyncClient) -> Embedder | None:
    if not settings.EMBEDDING_MODEL:
        return None
    return Embedder(create_openai_client(settings, http_client), settings.EMBEDDING_MODEL)


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


async def _stale(runtime: Runtime, model: str, limit: int) -> list[_Pending]:
    """Products without a current vector; touches those whose text did not change."""
    async with unit_of_work(runtime.sessionmaker) as session:
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
    runtime: Runtime, model: str, batch: Sequence[_Pending], vectors: Sequence[NDArray[np.float32]]
) -> None:
    async with unit_of_work(runtime.sessionmaker) as session:
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


async def embed_catalog(runtime: Runtime, job: Job) -> None:  # noqa: ARG001
    """The periodic job: embed new and changed products, a batch per call to the server
    and a short transaction per batch, never holding a transaction during a call."""
    embedder = runtime.embedder
    if embedder is None:
        return
    done = 0
    while done < MAX_PER_RUN:
        pending = await _stale(runtime, embedder.model, BATCH)
        if not pending:
            break
        vectors = await embedder.embed([item.text for item in pending])
        await _store(runtime, embedder.model, pending, vectors)
        done += len(pending)
    if done:
        log.info("embeddings.stored", products=done, model=embedder.model)
