"""The whole path with the LLM drafter, the LLM server faked at the HTTP boundary."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.core.clock import utc_now
from app.core.db import unit_of_work
from app.models import Draft, Message
from tests.fakes.llm import FakeLLM
from tests.harness import LLM_URL, Harness, make_settings, running_app, text_event

IG_ID = "17841400000000001"


@pytest.fixture
async def llm_harness(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Harness, FakeLLM]]:
    settings = make_settings(
        database_url, str(tmp_path), OPENAI_API_KEY="test-key", LLM_MODEL="m-1"
    )
    async with running_app(settings) as harness:
        yield harness, FakeLLM(harness.router, base_url=LLM_URL)


async def _setup(harness: Harness) -> int:
    account = await harness.create_account(external_id=IG_ID)
    await harness.set_policy(account["id"], mode="autopilot", min_confidence=0.7)
    cooperation = await harness.add_serum(account["id"])
    product_id: int = cooperation["products"][0]["id"]
    return product_id


async def _only_draft(harness: Harness) -> Draft:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        [draft] = (await session.scalars(select(Draft))).all()
        return draft


async def test_grounded_llm_answer_is_sent(llm_harness: tuple[Harness, FakeLLM]) -> None:
    harness, llm = llm_harness
    product_id = await _setup(harness)
    llm.script(
        reply="Hey! With LENA15 you get 15% off: https://glowlab.example/serum",
        intent="discount_code",
        language="en",
        confidence=0.93,
        product_ids=[product_id],
    )

    await harness.post_webhook(text_event(IG_ID, "IGSID-1", "code for the vitamin c serum?"))
    await harness.run_worker()

    assert llm.route.called
    request: dict[str, Any] = llm.last_request
    assert request["model"] == "m-1"
    assert request["response_format"]["type"] == "json_schema"
    prompt = "\n".join(m["content"] for m in request["messages"])
    assert "LENA15" in prompt
    assert "code for the vitamin c serum?" in prompt
    # The follower gets the tracked link (app/links), and the first automatic reply of the
    # conversation says so (app/outbox/disclosure.py); the draft keeps the catalog URL.
    [sent] = [s.text for s in harness.graph.sent]
    assert re.fullmatch(
        r"Hey! With LENA15 you get 15% off: http://127\.0\.0\.1:8000/l/[\w-]{24}"
        r"\n\n— sent automatically by Lena Loves' assistant",
        sent or "",
    )
    draft = await _only_draft(harness)
    assert (draft.drafter, draft.model, draft.status) == ("llm", "m-1", "sent")
    assert draft.text == "Hey! With LENA15 you get 15% off: https://glowlab.example/serum"


async def test_invented_discount_code_is_queued(llm_harness: tuple[Harness, FakeLLM]) -> None:
    harness, llm = llm_harness
    product_id = await _setup(harness)
    llm.script(
        reply="Sure! Use LENA50 for 50% off",
        intent="discount_code",
        confidence=0.99,
        product_ids=[product_id],
    )

    await harness.post_webhook(
        text_event(IG_ID, "IGSID-2", "I heard you have a 50% code for the serum?")
    )
    await harness.run_worker()

    assert harness.graph.sent == []
    draft = await _only_draft(harness)
    assert draft.status == "pending"
    assert any("LENA50" in reason for reason in draft.reasons)


async def test_complaint_is_queued_whatever_the_confidence(
    llm_harness: tuple[Harness, FakeLLM],
) -> None:
    harness, llm = llm_harness
    product_id = await _setup(harness)
    llm.script(
        reply="So sorry! Use LENA15 next time.",
        intent="discount_code",
        confidence=1.0,
        product_ids=[product_id],
    )

    await harness.post_webhook(
        text_event(IG_ID, "IGSID-3", "The vitamin c serum arrived broken and I want a refund")
    )
    await harness.run_worker()

    assert harness.graph.sent == []
    draft = await _only_draft(harness)
    assert draft.status == "pending"
    assert any(reason.startswith("sensitive message") for reason in draft.reasons)


@pytest.mark.parametrize("mode", ["http_500", "timeout", "invalid_json", "refusal"])
async def test_llm_failure_queues_for_a_human_with_the_reason(
    llm_harness: tuple[Harness, FakeLLM], mode: str
) -> None:
    harness, llm = llm_harness
    await _setup(harness)
    llm.fail(mode)

    await harness.post_webhook(text_event(IG_ID, "IGSID-4", "code for the vitamin c serum?"))
    await harness.run_worker()

    assert harness.graph.sent == []
    draft = await _only_draft(harness)
    assert draft.status == "pending"
    assert draft.error
    assert any(reason.startswith("drafter failed") for reason in draft.reasons)
    # The moderator still gets a grounded suggestion from the offline drafter.
    assert "LENA15" in draft.text


async def test_an_edit_while_the_model_drafts_makes_that_draft_stale(
    llm_harness: tuple[Harness, FakeLLM],
) -> None:
    harness, llm = llm_harness
    product_id = await _setup(harness)
    llm.script(
        reply="LENA15 gives you 15% off",
        intent="discount_code",
        confidence=0.95,
        product_ids=[product_id],
    )

    async def edit_meanwhile(request: httpx.Request) -> httpx.Response:
        # Another worker applies the follower's edit while the model is still writing.
        async with unit_of_work(harness.runtime.sessionmaker) as session:
            message = await session.scalar(select(Message).where(Message.mid == "m_edited"))
            assert message is not None
            message.text, message.edited_at = "actually: the night cream?", utc_now()
        return llm.handle(request)

    llm.route.side_effect = edit_meanwhile
    await harness.post_webhook(
        text_event(IG_ID, "IGSID-5", "vitamin c serum code?", mid="m_edited")
    )
    await harness.run_worker()

    assert harness.graph.sent == []  # the reply to the old text never goes out
    draft = await _only_draft(harness)
    assert draft.status == "superseded"


async def test_a_question_that_fits_two_products_is_answered_by_codes_question(
    llm_harness: tuple[Harness, FakeLLM],
) -> None:
    """Two headphones of one brand, and "the headphones": the model is not asked (it could
    only guess which); the follower gets the question naming both, written from the
    catalog, at once and with no code, link or price."""
    harness, llm = llm_harness
    account = await harness.create_account(external_id=IG_ID)
    await harness.set_policy(account["id"], mode="autopilot", min_confidence=0.7)
    body = {
        "brand": "Sonora",
        "title": "Travel audio",
        "starts_on": "2026-01-01",
        "ends_on": "2030-12-31",
        "products": [
            {
                "name": f"Sonora {model} Headphones",
                "aliases": [model],
                "description": "Wireless headphones.",
                "price": price,
                "currency": "EUR",
                "url": f"https://sonora.example/{model.lower()}",
                "discount_code": code,
                "discount_details": "10% off",
                "code_valid_until": "2030-12-31",
            }
            for model, price, code in (("Aero", "249.00", "AERO10"), ("Studio", "199.00", "STU10"))
        ],
    }
    response = await harness.api(
        "POST", f"/api/v1/accounts/{account['id']}/cooperations", json=body
    )
    assert response.status_code == 201, response.text
    llm.script(reply="Code AERO10!", intent="discount_code", confidence=0.99, product_ids=[])

    await harness.post_webhook(
        text_event(IG_ID, "IGSID-1", "what's the code for the sonora headphones?")
    )
    await harness.run_worker()

    assert not llm.route.called
    [sent] = [s.text or "" for s in harness.graph.sent]
    assert "Sonora Aero Headphones" in sent
    assert "Sonora Studio Headphones" in sent
    assert not any(fact in sent for fact in ("AERO10", "STU10", "http", "249", "199"))
    draft = await _only_draft(harness)
    assert (draft.drafter, draft.decision, draft.status) == ("offline", "auto", "sent")
