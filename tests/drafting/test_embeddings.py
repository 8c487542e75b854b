"""Semantic retrieval with EMBEDDING_MODEL: the real openai SDK against a fake
`/embeddings` server on the HTTP boundary, the real job, the real draft path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.config import Settings
from app.core.db import unit_of_work
from app.drafting.jobs import embed_catalog
from app.models import Job, ProductEmbedding
from app.worker.kinds import JobKind
from tests.fakes.embeddings import FakeEmbeddings
from tests.harness import LLM_URL, Harness, make_settings, text_event

MODEL = "fake-embed-1"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, str(tmp_path), EMBEDDING_MODEL=MODEL)


@pytest.fixture
def embeddings(harness: Harness) -> FakeEmbeddings:
    return FakeEmbeddings(harness.router, LLM_URL)


async def _catalog(harness: Harness) -> tuple[dict[str, Any], dict[str, int]]:
    account = await harness.create_account()
    await harness.set_policy(account["id"], mode="copilot")
    created = await harness.api(
        "POST",
        f"/api/v1/accounts/{account['id']}/cooperations",
        json={
            "brand": "Bienenhaus",
            "products": [
                {"name": "Honey Lip Balm", "description": "For chapped lips."},
                {"name": "Beeswax Candle", "description": "Hand poured."},
            ],
        },
    )
    assert created.status_code == 201, created.text
    ids = {p["name"]: p["id"] for p in created.json()["products"]}
    return account, ids


async def _embed(harness: Harness) -> None:
    await embed_catalog(harness.runtime, Job(kind=JobKind.EMBED_CATALOG, payload={}))


async def _stored(harness: Harness) -> int:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        return int(await session.scalar(select(func.count(ProductEmbedding.product_id))) or 0)


async def _draft_products(harness: Harness, text: str) -> list[str]:
    response = await harness.post_webhook(text_event("17841400000000001", "4242", text))
    assert response.status_code == 200
    await harness.run_worker()
    [draft] = (await harness.api("GET", "/api/v1/drafts?status=pending")).json()
    return [p["name"] for p in draft["products"]]


async def test_the_job_embeds_new_and_changed_products_only(
    harness: Harness, embeddings: FakeEmbeddings
) -> None:
    _account, ids = await _catalog(harness)
    await _embed(harness)
    assert await _stored(harness) == 2
    assert embeddings.requests[0]["model"] == MODEL
    assert sorted(embeddings.texts) == [
        "Bienenhaus: Beeswax Candle\nHand poured.",
        "Bienenhaus: Honey Lip Balm\nFor chapped lips.",
    ]

    await _embed(harness)
    assert len(embeddings.texts) == 2  # nothing changed, nothing sent

    patched = await harness.api(
        "PATCH", f"/api/v1/products/{ids['Beeswax Candle']}", json={"description": "Soy wax."}
    )
    assert patched.status_code == 200
    await _embed(harness)
    assert embeddings.texts[2:] == ["Bienenhaus: Beeswax Candle\nSoy wax."]


async def test_a_message_finds_a_product_by_meaning(
    harness: Harness, embeddings: FakeEmbeddings
) -> None:
    await _catalog(harness)
    await _embed(harness)
    products = await _draft_products(harness, "anything for really chapped lips?")
    assert products == ["Honey Lip Balm"]
    # The message itself was embedded through the same server.
    assert embeddings.texts[-1] == "anything for really chapped lips?"


async def test_without_vectors_the_same_message_finds_nothing(harness: Harness) -> None:
    # The meaning match above is the embeddings' doing: words alone do not find it.
    await _catalog(harness)
    FakeEmbeddings(harness.router, LLM_URL).failing = True
    assert await _draft_products(harness, "anything for really chapped lips?") == []


async def test_a_failing_embeddings_server_never_blocks_a_draft(
    harness: Harness, embeddings: FakeEmbeddings
) -> None:
    await _catalog(harness)
    await _embed(harness)
    embeddings.failing = True
    # Words still work; meaning is skipped.
    assert await _draft_products(harness, "Honey Lip Balm price?") == ["Honey Lip Balm"]


async def test_a_failing_embeddings_server_fails_the_job_for_a_retry(
    harness: Harness, embeddings: FakeEmbeddings
) -> None:
    await _catalog(harness)
    embeddings.failing = True
    with pytest.raises(Exception, match="InternalServerError"):
        await _embed(harness)
    assert await _stored(harness) == 0
