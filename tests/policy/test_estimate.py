"""Would a past draft have gone out alone under other rules: only the rules' own reasons
can be lifted; anything else that held a draft holds it under any rules."""

from __future__ import annotations

from typing import TypedDict

import pytest

from app.moderation.autonomy import a_day, changes
from app.policy.estimate import would_send
from app.policy.schemas import Policy

AUTOPILOT = Policy(mode="autopilot", min_confidence=0.8)


class StoredDraft(TypedDict):
    """What `would_send` reads of a past draft."""

    intent: str
    confidence: float
    decision: str
    reasons: list[str]


@pytest.mark.parametrize(
    ("reasons", "expected"),
    [
        (["confidence 0.85 below 0.90"], True),
        (["intent 'price' needs review"], True),
        (["mode is copilot"], True),
        (["the message asks for price, discount_code, which needs review"], True),
        (["the message asks for refund_status, which needs review"], False),
        (["sensitive message: complaint"], False),
        (["automation paused for this conversation"], False),
        (["daily limit of 5 automatic replies reached"], False),
        (["drafter asked for a human", "confidence 0.85 below 0.90"], False),
    ],
)
def test_only_the_rules_own_reasons_are_lifted(reasons: list[str], expected: bool) -> None:
    held = StoredDraft(intent="price", confidence=0.85, decision="review", reasons=reasons)
    assert would_send(AUTOPILOT, **held) is expected


def test_the_new_rules_decide_intent_threshold_and_mode() -> None:
    sent = StoredDraft(intent="price", confidence=0.85, decision="auto", reasons=[])
    assert would_send(AUTOPILOT, **sent)
    stricter = AUTOPILOT.model_copy(update={"intent_min_confidence": {"price": 0.9}})
    assert not would_send(stricter, **sent)
    without = AUTOPILOT.model_copy(update={"auto_intents": ["greeting"]})
    assert not would_send(without, **sent)
    assert not would_send(Policy(mode="copilot"), **sent)


def test_changes_and_rates_in_words() -> None:
    after = AUTOPILOT.model_copy(
        update={"auto_intents": ["price", "other"], "intent_min_confidence": {"other": 0.95}}
    )
    assert changes(AUTOPILOT, after) == [
        "Answers about whether a code still works will wait for review.",
        "Discount-code answers will wait for review.",
        "Greetings will wait for review.",
        "Product-link answers will wait for review.",
        "Thank-you replies will wait for review.",
        "Other answers may be sent without review.",
        "Other answers: minimum confidence 0.80 becomes 0.95.",
    ]
    assert [a_day(r) for r in (0, 0.2, 0.7, 40.4)] == [
        "no answers",
        "fewer than one answer a day",
        "about one answer a day",
        "about 40 answers a day",
    ]
