"""A reason carries its code from where it is decided; a sentence read back from the
database (drafts store the sentences) gets the same code, and the consumers (the metrics
label, the desk's words, the estimate of a rule change) read the code."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from datetime import timedelta
from typing import Any, TypedDict

import pytest

from app.core.clock import utc_now
from app.policy.estimate import would_send
from app.policy.form import form_problems
from app.policy.guardrails import ungrounded_facts
from app.policy.reasons import Reason, ReasonCode, reason_of
from app.policy.recognise import recognise
from app.policy.schemas import Policy
from app.policy.service import (
    DISCLOSURE_ROOM_REASON,
    LLM_BUDGET_ERROR,
    OPTED_OUT_REASON,
    Decision,
    DecisionInput,
    DraftFacts,
    decide,
    reason_code,
)
from app.ui.words import UNKNOWN, reason_words
from tests.drafting.catalog import TODAY
from tests.policy.test_grounding import check

C = ReasonCode
AUTOPILOT = Policy(mode="autopilot", min_confidence=0.8)
GOOD = DecisionInput(
    policy=AUTOPILOT,
    draft=DraftFacts(intent="discount_code", confidence=0.95, product_ids=(7,)),
    product_scores={7: 0.9},
    sensitive=None,
    ungrounded=(),
    recognised_problem=None,
    recognised_intents=frozenset({"discount_code"}),
    now=utc_now(),
)


def assert_read_back(reasons: list[Reason]) -> None:
    """What a draft row gives back (plain sentences) has the codes the decision made."""
    assert [(r.code, r.detail) for r in copy.deepcopy(reasons)] == [
        (r.code, r.detail) for r in reasons
    ]
    stored = json.loads(json.dumps(reasons))
    assert stored == [str(r) for r in reasons]
    assert all(type(s) is str for s in stored)
    assert [(reason_of(s).code, reason_of(s).detail) for s in stored] == [
        (r.code, r.detail) for r in reasons
    ]


@pytest.mark.parametrize(
    ("change", "code", "label"),
    [
        ({"policy": Policy(mode="copilot")}, C.MODE, "mode"),
        ({"sensitive": "complaint"}, C.SENSITIVE, "sensitive"),
        ({"drafter_error": "timeout"}, C.DRAFTER_FAILED, "drafter_failed"),
        ({"drafter_error": f"{LLM_BUDGET_ERROR} ($1.00 of $1.00)"}, C.LLM_BUDGET, "llm_budget"),
        ({"draft": DraftFacts("discount_code", 0.95, needs_human=True)}, C.NEEDS_HUMAN, None),
        ({"draft": DraftFacts("other", 0.95, product_ids=(7,))}, C.INTENT_NEEDS_REVIEW, None),
        ({"product_scores": {7: 0.5}}, C.LOW_CONFIDENCE, "low_confidence"),
        ({"account_status": "needs_reconnect"}, C.ACCOUNT_STATE, "account_state"),
        ({"account_paused": True}, C.PAUSED, "paused"),
        ({"conversation_paused": True}, C.PAUSED, "paused"),
        ({"paused_until": utc_now() + timedelta(minutes=5)}, C.HUMAN_REPLIED, "human_replied"),
        ({"standby": True}, C.THREAD_HELD, "thread_held"),
        ({"opted_out": True}, C.OPTED_OUT, "opted_out"),
        ({"room_for_disclosure": False}, C.DISCLOSURE_ROOM, "disclosure_room"),
        ({"auto_replies_today": 5}, C.DAILY_LIMIT, "daily_limit"),
        (
            {
                "recognised_intents": frozenset({"price", "product_link"}),
                "policy": Policy(mode="autopilot", auto_intents=["discount_code"]),
            },
            C.ASKS_FOR_REVIEWED,
            "intent_needs_review",
        ),
        ({"ungrounded": ungrounded_facts("Use VIP50", [])}, C.CODE_NOT_IN_CATALOG, None),
    ],
)
def test_each_rule_gives_its_code(
    change: dict[str, Any], code: ReasonCode, label: str | None
) -> None:
    decision = decide(replace(GOOD, **change))
    assert decision.decision == "review"
    assert code in [r.code for r in decision.reasons], decision.reasons
    assert_read_back(decision.reasons)
    if label is not None:  # the metrics' label is the first reason's
        assert decision.reasons[0].code is code
        assert reason_code(decision) == label


def test_an_automatic_reply_says_why_in_codes_that_read_back() -> None:
    decision = decide(GOOD)
    assert decision.decision == "auto"
    assert [r.code for r in decision.reasons] == [
        C.CONFIDENCE_MET,
        C.INTENT_ALLOWED,
        C.RECOGNISED_SAFE,
        C.FACTS_CHECKED,
    ]
    assert_read_back(decision.reasons)
    assert reason_code(decision) == "rules_met"


def test_the_message_our_code_does_not_recognise_keeps_the_recogniser_code() -> None:
    long = recognise(" ".join(["word"] * 200), [], today=TODAY).problem
    unknown = recognise("zxqv flumph?", [], today=TODAY).problem
    assert long is not None
    assert long.code is C.LONG_MESSAGE
    assert unknown is not None
    assert unknown.code is C.UNKNOWN_WORDS
    for problem in (long, unknown):
        decision = decide(replace(GOOD, recognised_problem=problem))
        assert decision.reasons[0].code is problem.code
        assert str(decision.reasons[0]) == f"needs a person: {problem}"
        assert_read_back(decision.reasons)
        assert reason_code(decision) == "not_recognised"


def test_the_grounding_and_form_checks_give_codes_that_read_back() -> None:
    found = [
        *check("code for the night cream?", "Night Cream: your code NIGHT10!", (2,)),
        *check("code for the eye gel?", "Eye Gel: code GLOW15 https://glowlab.example/eye", (3,)),
        *check("code for the fjell jacket?", "Fjell Jacket: code FJELL", (4,)),
        *check(
            "how much is the vitamin c serum?",
            "Night Cream: 34,00 € https://glowlab.example/night",
            (2,),
            also=(2,),
        ),
        *check("link to the vitamin c serum?", "The Vitamin C Serum is great!", (1,)),
        *check("link for the fjell jacket?", "Let me check!", (4,)),
        *check("code for the vitamin c serum?", "Use VIP50 for 50% off!", (1,)),
        *form_problems("x" * 1001, platform="instagram", known_texts=[]),
        *form_problems("😀" * 9, platform="instagram", known_texts=[]),
        *form_problems("write to lena@example.com", platform="instagram", known_texts=[]),
    ]
    assert all(isinstance(r, Reason) for r in found)
    assert {
        C.CODE_WRONG,
        C.CODE_NOT_VALID_NOW,
        C.OTHER_PRODUCT_ANSWERED,
        C.PRICE_WRONG,
        C.LINK_WRONG,
        C.LINK_MISSING,
        C.LINK_NONE_IN_CATALOG,
        C.PERCENT_WRONG,
        C.TOO_LONG,
        C.TOO_MANY_LINKS_OR_EMOJI,
        C.PERSONAL_DATA,
    } <= {r.code for r in found}
    assert_read_back(found)
    decision = decide(replace(GOOD, ungrounded=found))
    assert reason_code(decision) == "not_grounded"


def test_the_words_come_from_the_code_for_made_and_stored_reasons() -> None:
    made = Reason(C.OPTED_OUT, "any sentence at all")
    assert reason_words(made) == reason_words(str(OPTED_OUT_REASON))
    assert reason_words(made)[1] == "The follower wrote STOP: no automatic messages to them"
    assert reason_words(DISCLOSURE_ROOM_REASON)[1] == "Too long to carry the automatic-reply line"
    assert reason_words("sensitive message: refund") == (
        0,
        "Sensitive: the follower asks for a refund",
    )
    assert reason_words("mode is copilot")[1] == "You review every reply (copilot mode)"
    assert reason_words("mode is off")[1] == "Automatic sending is off for this account"
    # A sentence no rule knows reads as waiting for review, with code `other`.
    assert reason_of("a wording from an older version").code is C.OTHER
    assert reason_words("a wording from an older version") == (9, UNKNOWN)


class StoredFacts(TypedDict):
    """What `would_send` reads of a stored draft beside its reasons."""

    intent: str
    confidence: float
    decision: str


def test_the_estimate_reads_the_codes_of_stored_reasons() -> None:
    facts = StoredFacts(intent="discount_code", confidence=0.95, decision="review")
    rules_only = decide(replace(GOOD, policy=Policy(mode="copilot"))).reasons
    assert would_send(AUTOPILOT, **facts, reasons=[str(r) for r in rules_only])
    held = decide(replace(GOOD, standby=True)).reasons
    assert not would_send(AUTOPILOT, **facts, reasons=[str(r) for r in held])
    codes_only = Policy(mode="copilot", auto_intents=["discount_code"])
    asks = decide(replace(GOOD, recognised_intents=frozenset({"price"}), policy=codes_only))
    stored = [str(r) for r in asks.reasons]
    assert stored == ["mode is copilot", "the message asks for price, which needs review"]
    assert not would_send(
        Policy(mode="autopilot", auto_intents=["discount_code"]), **facts, reasons=stored
    )
    lets_price = Policy(mode="autopilot", auto_intents=["discount_code", "price"])
    assert would_send(lets_price, **facts, reasons=stored)


def test_metrics_read_a_decision_made_before_codes_too() -> None:
    assert (
        reason_code(
            Decision("review", 0.5, [reason_of("daily limit of 5 automatic replies reached")])
        )
        == "daily_limit"
    )
