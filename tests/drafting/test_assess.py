"""`assess` decides a draft in the account's and conversation's state, given as one typed
value: each fact of that state can hold an otherwise automatic reply."""

from __future__ import annotations

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
