"""Semantic retrieval: products and messages embedded by EMBEDDING_MODEL through the
OpenAI-compatible `/embeddings` endpoint (OpenAI, Azure, vLLM, Ollama, LiteLLM...).

This module is the client the runtime builds (`create_embedder`); the periodic job that
stores product vectors is app/drafting/product_vectors.py. Product vectors are scored in
memory by the account's catalog index: one account's catalog of up to tens of thousands
of products is a matrix of a few megabytes and one matrix-vector product, so it needs no
vector extension in the database and works the same on SQLite and PostgreSQL. A failing
embeddings server never blocks a draft: retrieval falls back to words alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx
import numpy as np
import openai
import structlog
from numpy.typing import NDArray
from openai import AsyncOpenAI

from app.config import Settings
from app.drafting.llm import create_openai_client

log = structlog.get_logger("app.drafting.embeddings")

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
