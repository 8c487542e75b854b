"""How a draft is decided: every rule that can send a draft to a human, and the one path out."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from app.core.clock import utc_now
from app.policy.reasons import Reason
from app.policy.reasons import ReasonCode as C
from app.policy.schemas import Policy
from app.policy.service import DecisionInput, DraftFacts, combined_confidence, decide

AUTOPILOT = Policy(mode="autopilot", min_confidence=0.8)
GOOD = DecisionInput(
    policy=AUTOPILOT,
    draft=DraftFacts(intent="discount_code", confidence=0.95, product_ids=(7,)),
    product_scores={7: 0.9, 8: 0.4},
    sensitive=None,
    ungrounded=(),
    recognised_problem=None,
    recognised_intents=frozenset({"discount_code"}),
    now=utc_now(),
)


def test_a_grounded_confident_allowed_draft_goes_out() -> None:
    decision = decide(GOOD)
    assert decision.decision == "auto"
    assert decision.confidence == 0.9  # capped by the retrieval score of the product used
    assert decision.reasons


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"policy": Policy(mode="copilot")}, "mode is copilot"),
        ({"policy": Policy(mode="off")}, "mode is off"),
        ({"sensitive": "complaint"}, "sensitive message: complaint"),
        # Our own code did not recognise the message: the model's word cannot send it.
        (
            {
                "recognised_problem": Reason(
                    C.UNKNOWN_WORDS, "words the bot does not know: 'pregnant'"
                )
            },
            "pregnant",
        ),
        # The message asks for something the account keeps for review.
        (
            {
                "recognised_intents": frozenset({"price"}),
                "policy": Policy(mode="autopilot", auto_intents=["discount_code"]),
            },
            "asks for price",
        ),
        ({"ungrounded": ("discount code 'LENA50' not in catalog",)}, "LENA50"),
        ({"drafter_error": "timeout"}, "drafter failed: timeout"),
        (
            {
                "draft": DraftFacts(
                    intent="discount_code", confidence=0.95, needs_human=True, product_ids=(7,)
                )
            },
            "drafter asked for a human",
        ),
        (
            {"draft": DraftFacts(intent="other", confidence=0.95, product_ids=(7,))},
            "intent 'other' needs review",
        ),
        ({"product_scores": {7: 0.5}}, "confidence 0.50 below 0.80"),
        ({"account_status": "needs_reconnect"}, "account is needs_reconnect"),
        ({"account_paused": True}, "automation paused for the account"),
        ({"conversation_paused": True}, "automation paused for this conversation"),
        ({"paused_until": utc_now() + timedelta(minutes=5)}, "a human replied recently"),
        ({"standby": True}, "another app or a person holds the thread"),
        ({"auto_replies_today": 5}, "daily limit of 5 automatic replies reached"),
    ],
)
def test_each_rule_sends_the_draft_to_a_human(change: dict[str, Any], reason: str) -> None:
    decision = decide(replace(GOOD, **change))
    assert decision.decision == "review"
    assert any(reason in r for r in decision.reasons), decision.reasons


def test_blockers_hold_even_at_full_confidence_with_lenient_rules() -> None:
    lenient = Policy(mode="autopilot", min_confidence=0.0, auto_intents=["discount_code"])
    decision = decide(
        replace(
            GOOD,
            policy=lenient,
            sensitive="refund",
            draft=DraftFacts(intent="discount_code", confidence=1.0),
        )
    )
    assert decision.decision == "review"


def test_small_talk_needs_no_product_but_is_capped() -> None:
    facts = DraftFacts(intent="greeting", confidence=1.0)
    assert combined_confidence(facts, {}) == 0.95
    assert combined_confidence(DraftFacts(intent="price", confidence=1.0), {}) == 0.0


def test_product_questions_need_review_by_default() -> None:
    assert "product_info" not in Policy().auto_intents
    info = DraftFacts(intent="product_info", confidence=0.99, product_ids=(7,))
    assert decide(replace(GOOD, draft=info)).decision == "review"


def test_a_per_intent_threshold_overrides_min_confidence() -> None:
    stricter = Policy(
        mode="autopilot", min_confidence=0.8, intent_min_confidence={"discount_code": 0.95}
    )
    held = decide(replace(GOOD, policy=stricter))
    assert held.decision == "review"
    assert "confidence 0.90 below 0.95" in held.reasons

    looser = Policy(
        mode="autopilot", min_confidence=0.95, intent_min_confidence={"discount_code": 0.85}
    )
    sent = decide(replace(GOOD, policy=looser))
    assert sent.decision == "auto"
    assert "confidence 0.90 at least 0.85" in sent.reasons
    # Another intent keeps the general threshold.
    assert looser.threshold("price") == 0.95


def test_per_intent_thresholds_are_bounded() -> None:
    with pytest.raises(ValueError, match="less than or equal to 1"):
        Policy(intent_min_confidence={"price": 1.5})
    assert Policy.of({}).intent_min_confidence == {}
