"""Tokens and estimated cost per draft, and each account's daily LLM budget: the whole path
with the LLM server faked at the HTTP boundary, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select, update

from app.config import Settings
from app.core.clock import utc_now
from app.core.db import unit_of_work
from app.drafting.base import Usage
from app.drafting.cost import estimate_cost
from app.models import Draft
from app.policy.reasons import reason_of
from app.policy.service import Decision, reason_code
from tests.accounts.conftest import sign_in
from tests.fakes.llm import FakeLLM
from tests.harness import LLM_URL, Harness, make_settings, running_app, text_event

IG_ID = "17841400000000001"
ASK = "code for the vitamin c serum?"
# 1,200 prompt and 300 completion tokens at 0.40 / 1.60 USD per million tokens.
COST = Decimal("0.000960")


async def _harness(database_url: str, tmp_path: Path, **overrides: Any) -> Any:
    settings = make_settings(
        database_url, str(tmp_path), OPENAI_API_KEY="test-key", LLM_MODEL="m-1", **overrides
    )
    return running_app(settings)


@pytest.fixture
async def llm_harness(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Harness, FakeLLM]]:
    async with await _harness(database_url, tmp_path) as harness:
        llm = FakeLLM(harness.router, base_url=LLM_URL)
        llm.usage = {"prompt_tokens": 1200, "completion_tokens": 300}
        yield harness, llm


async def _setup(harness: Harness, llm: FakeLLM) -> int:
    account = await harness.create_account(external_id=IG_ID)
    await harness.set_policy(account["id"], mode="autopilot", min_confidence=0.7)
    cooperation = await harness.add_serum(account["id"])
    llm.script(
        reply="Hey! With LENA15 you get 15% off: https://glowlab.example/serum",
        intent="discount_code",
        confidence=0.93,
        product_ids=[cooperation["products"][0]["id"]],
    )
    account_id: int = account["id"]
    return account_id


async def _drafts(harness: Harness) -> list[Draft]:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        return list((await session.scalars(select(Draft).order_by(Draft.id))).all())


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_draft_records_its_tokens_and_estimated_cost(
    llm_harness: tuple[Harness, FakeLLM],
) -> None:
    harness, llm = llm_harness
    await _setup(harness, llm)
    before = {
        "prompt": _metric("inboxpilot_llm_tokens_total", kind="prompt"),
        "cost": _metric("inboxpilot_llm_cost_usd_total"),
        "auto": _metric("inboxpilot_drafts_total", decision="auto", reason="rules_met"),
        "ok": _metric("inboxpilot_llm_request_seconds_count", outcome="ok"),
    }

    await harness.post_webhook(text_event(IG_ID, "IGSID-1", ASK))
    await harness.run_worker()

    [draft] = await _drafts(harness)
    assert (draft.status, draft.prompt_tokens, draft.completion_tokens) == ("sent", 1200, 300)
    assert draft.llm_cost_usd == COST
    [listed] = (await harness.api("GET", "/api/v1/drafts?status=sent")).json()
    assert (listed["prompt_tokens"], listed["completion_tokens"]) == (1200, 300)
    assert Decimal(str(listed["llm_cost_usd"])) == COST
    assert _metric("inboxpilot_llm_tokens_total", kind="prompt") - before["prompt"] == 1200
    assert _metric("inboxpilot_llm_cost_usd_total") - before["cost"] == pytest.approx(0.00096)
    auto = _metric("inboxpilot_drafts_total", decision="auto", reason="rules_met")
    assert auto - before["auto"] == 1
    assert _metric("inboxpilot_llm_request_seconds_count", outcome="ok") - before["ok"] == 1
    scraped = (await harness.client.get("/metrics")).text
    assert 'inboxpilot_drafts_total{decision="auto",reason="rules_met"}' in scraped


async def test_an_unusable_answer_is_still_paid_for(llm_harness: tuple[Harness, FakeLLM]) -> None:
    harness, llm = llm_harness
    await _setup(harness, llm)
    llm.fail("invalid_json")

    await harness.post_webhook(text_event(IG_ID, "IGSID-2", ASK))
    await harness.run_worker()

    [draft] = await _drafts(harness)
    assert (draft.status, draft.drafter) == ("pending", "offline")
    assert (draft.prompt_tokens, draft.llm_cost_usd) == (1200, COST)


async def test_a_server_without_usage_records_no_cost(
    llm_harness: tuple[Harness, FakeLLM],
) -> None:
    harness, llm = llm_harness
    await _setup(harness, llm)
    llm.usage = None

    await harness.post_webhook(text_event(IG_ID, "IGSID-3", ASK))
    await harness.run_worker()

    [draft] = await _drafts(harness)
    assert (draft.status, draft.prompt_tokens, draft.llm_cost_usd) == ("sent", None, None)


async def test_over_the_accounts_budget_drafts_are_offline_and_reviewed(
    llm_harness: tuple[Harness, FakeLLM],
) -> None:
    harness, llm = llm_harness
    account_id = await _setup(harness, llm)
    patched = await harness.api(
        "PATCH", f"/api/v1/accounts/{account_id}", json={"daily_llm_budget_usd": "0.0015"}
    )
    assert patched.status_code == 422  # cents only
    patched = await harness.api(
        "PATCH", f"/api/v1/accounts/{account_id}", json={"daily_llm_budget_usd": "0.01"}
    )
    assert patched.status_code == 200, patched.text
    assert Decimal(str(patched.json()["daily_llm_budget_usd"])) == Decimal("0.01")
    llm.usage = {"prompt_tokens": 20_000, "completion_tokens": 2_000}  # 0.0112 USD: over
    fallbacks = _metric("inboxpilot_llm_budget_fallbacks_total")

    for sender in ("IGSID-a", "IGSID-b"):
        await harness.post_webhook(text_event(IG_ID, sender, ASK))
        await harness.run_worker()

    first, second = await _drafts(harness)
    assert (first.drafter, first.status, first.llm_cost_usd) == ("llm", "sent", Decimal("0.0112"))
    assert (second.drafter, second.status, second.llm_cost_usd) == ("offline", "pending", None)
    assert second.reasons[0] == "drafter failed: daily LLM budget used up ($0.01 of $0.01)"
    assert "LENA15" in second.text  # the moderator still gets a grounded suggestion
    assert llm.route.call_count == 1
    assert _metric("inboxpilot_llm_budget_fallbacks_total") - fallbacks == 1
    review = _metric("inboxpilot_drafts_total", decision="review", reason="llm_budget")
    assert review >= 1

    # Yesterday's spending does not count against today.
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        await session.execute(update(Draft).values(created_at=utc_now() - timedelta(days=1)))
    await harness.post_webhook(text_event(IG_ID, "IGSID-c", ASK))
    await harness.run_worker()
    assert (await _drafts(harness))[-1].drafter == "llm"
    assert llm.route.call_count == 2


async def test_the_settings_page_shows_todays_spending_against_the_budget(
    llm_harness: tuple[Harness, FakeLLM],
) -> None:
    harness, llm = llm_harness
    account_id = await _setup(harness, llm)
    await sign_in(harness)
    path = f"/accounts/{account_id}/settings"
    page = (await harness.client.get(path)).text
    assert "$0.0000</strong>; there is no daily budget" in page

    await harness.api(
        "PATCH", f"/api/v1/accounts/{account_id}", json={"daily_llm_budget_usd": "0.01"}
    )
    llm.usage = {"prompt_tokens": 20_000, "completion_tokens": 2_000}  # 0.0112 USD
    await harness.post_webhook(text_event(IG_ID, "IGSID-s", ASK))
    await harness.run_worker()
    page = (await harness.client.get(path)).text
    assert "$0.0112</strong> of a daily budget of\n<strong>$0.01</strong>" in page
    assert "(set for this account)" in page
    assert "budget used up" in page


async def test_the_settings_page_says_nothing_is_spent_offline(harness: Harness) -> None:
    account = await harness.create_account(external_id=IG_ID)
    await sign_in(harness)
    page = (await harness.client.get(f"/accounts/{account['id']}/settings")).text
    assert "no LLM is configured" in page


async def test_the_operators_default_budget_applies_until_an_account_sets_its_own(
    database_url: str, tmp_path: Path
) -> None:
    async with await _harness(database_url, tmp_path, LLM_DAILY_BUDGET_USD=0) as harness:
        llm = FakeLLM(harness.router, base_url=LLM_URL)
        account_id = await _setup(harness, llm)
        await harness.post_webhook(text_event(IG_ID, "IGSID-x", ASK))
        await harness.run_worker()
        assert not llm.route.called
        assert (await _drafts(harness))[-1].drafter == "offline"

        await harness.api(
            "PATCH", f"/api/v1/accounts/{account_id}", json={"daily_llm_budget_usd": 5}
        )
        await harness.post_webhook(text_event(IG_ID, "IGSID-y", ASK))
        await harness.run_worker()
        assert llm.route.call_count == 1
        assert (await _drafts(harness))[-1].drafter == "llm"


def test_cost_follows_the_configured_prices() -> None:
    settings = Settings(
        _env_file=None,
        LLM_INPUT_USD_PER_MTOK=2.5,
        LLM_OUTPUT_USD_PER_MTOK=10,
    )
    usage = Usage(prompt_tokens=1_000_000, completion_tokens=1)
    assert estimate_cost(settings, usage) == Decimal("2.500010")
    assert estimate_cost(settings, Usage(0, 0)) == Decimal(0)


@pytest.mark.parametrize(
    ("reasons", "code"),
    [
        (["drafter failed: daily LLM budget used up ($1.00 of $1.00)"], "llm_budget"),
        (["drafter failed: LLM timed out"], "drafter_failed"),
        (["sensitive message: complaint"], "sensitive"),
        (["discount code 'X' not in catalog"], "not_grounded"),
        (["confidence 0.40 below 0.70"], "low_confidence"),
        (["mode is copilot", "intent 'other' needs review"], "mode"),
    ],
)
def test_metrics_get_a_short_code_for_the_first_reason(reasons: list[str], code: str) -> None:
    stored = [reason_of(r) for r in reasons]  # sentences read back from a draft row
    assert reason_code(Decision("review", 0.5, stored)) == code
    assert reason_code(Decision("auto", 0.9, [reason_of("anything")])) == "rules_met"
