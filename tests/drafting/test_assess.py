"""`assess` decides a draft in the account's and conversation's state, given as one typed
value: each fact of that state can hold an otherwise automatic reply."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from app.drafting.assess import ConversationState, assess
from app.drafting.offline import OfflineDrafter
from app.drafting.retrieval import rank_products
from app.policy.reasons import ReasonCode
from app.policy.schemas import Policy
from tests.drafting.catalog import TODAY, catalog, request

AUTOPILOT = Policy(mode="autopilot", min_confidence=0.8)
NOW = datetime(TODAY.year, TODAY.month, TODAY.day, 12, tzinfo=UTC)
TEXT = "Do you have a code for the vitamin c serum?"


@pytest.mark.parametrize(
    ("state", "code"),
    [
        (ConversationState(account_status="needs_reconnect"), ReasonCode.ACCOUNT_STATE),
        (ConversationState(account_paused=True), ReasonCode.PAUSED),
        (ConversationState(conversation_paused=True), ReasonCode.PAUSED),
        (ConversationState(paused_until=NOW + timedelta(minutes=5)), ReasonCode.HUMAN_REPLIED),
        (ConversationState(standby=True), ReasonCode.THREAD_HELD),
        (ConversationState(opted_out=True), ReasonCode.OPTED_OUT),
        (ConversationState(room_for_disclosure=False), ReasonCode.DISCLOSURE_ROOM),
        (ConversationState(auto_replies_today=5), ReasonCode.DAILY_LIMIT),
    ],
)
async def test_each_fact_of_the_state_holds_the_reply(
    state: ConversationState, code: ReasonCode
) -> None:
    asked = request(TEXT, rank_products(TEXT, catalog(), 3, today=TODAY))
    result = await OfflineDrafter().draft(asked)
    assert assess(asked, result, None, policy=AUTOPILOT, now=NOW).decision == "auto"
    held = assess(asked, result, None, policy=AUTOPILOT, now=NOW, state=state)
    assert held.decision == "review"
    assert [r.code for r in held.reasons] == [code]


async def test_a_product_the_follower_names_is_not_doubted_for_its_retrieval_score() -> None:
    """Retrieval's score caps the confidence only while code has not recognised the
    product by the follower's own words: a low score then says nothing about which
    product is meant."""
    matches = rank_products(TEXT, catalog(), 3, today=TODAY)
    assert matches[0].product.id == 1
    doubted = (replace(matches[0], score=0.65), *matches[1:])
    asked = request(TEXT, doubted)
    result = await OfflineDrafter().draft(asked)

    decision = assess(asked, result, None, policy=AUTOPILOT, now=NOW)
    assert decision.decision == "auto"
    assert decision.confidence == result.confidence > 0.65

    unnamed = request("Do you have a code for it?", doubted)
    unsure = await OfflineDrafter().draft(unnamed)
    assert assess(unnamed, unsure, None, policy=AUTOPILOT, now=NOW).decision == "review"
