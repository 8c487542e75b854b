"""What a process holds for its lifetime: engine, sessions, its HTTP clients, the Graph
client and the drafter. Built once by the web lifespan or the worker command."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.config import Settings
from app.core.crypto import TokenCipher
from app.core.db import create_engine, create_reader, create_sessionmaker
from app.core.http import create_http_client
from app.drafting.base import Drafter
from app.drafting.catalog_index import CatalogIndexes
from app.drafting.embeddings import Embedder, create_embedder
from app.drafting.llm import create_drafter
from app.meta.graph import GraphClient
from app.ops.tracing import Tracing


@dataclass(slots=True)
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    reader: async_sessionmaker[AsyncSession]  # reads without a transaction (`reading`)
    http: httpx.AsyncClient  # Meta (Graph API, OAuth) and web push
    llm_http: httpx.AsyncClient  # the LLM server (OPENAI_BASE_URL): drafter and embeddings
    graph: GraphClient
    drafter: Drafter
    cipher: TokenCipher
    embedder: Embedder | None  # None: EMBEDDING_MODEL unset, words alone
    catalog: CatalogIndexes  # this process's in-memory catalog indexes
    tracing: Tracing | None = None  # None: OTEL_TRACING off


@asynccontextmanager
async def open_runtime(
    settings: Settings, *, tracing: Tracing | None = None
) -> AsyncIterator[Runtime]:
    engine = create_engine(settings.DATABASE_URL, pool_size=settings.DATABASE_POOL_SIZE)
    # A client per kind of host: a pool looks at each of its connections on every request
    # (httpcore), so one pool for Meta and the LLM together cost each call more CPU.
    http = create_http_client(settings.HTTP_TIMEOUT_SECONDS)
    llm_http = create_http_client(settings.HTTP_TIMEOUT_SECONDS)
    if tracing is not None:
        tracing.instrument_client(http)
        tracing.instrument_client(llm_http)
    try:
        yield Runtime(
            settings=settings,
            engine=engine,
            sessionmaker=create_sessionmaker(engine),
            reader=create_reader(engine),
            http=http,
            llm_http=llm_http,
            graph=GraphClient(http, settings),
            drafter=create_drafter(settings, llm_http),
            cipher=TokenCipher(settings.secret_key, *settings.secret_key_fallbacks),
            embedder=create_embedder(settings, llm_http),
            catalog=CatalogIndexes(model=settings.EMBEDDING_MODEL),
            tracing=tracing,
        )
    finally:
        await http.aclose()
        await llm_http.aclose()
        await engine.dispose()
