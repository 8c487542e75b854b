"""Plain words: every reason the policy writes reads as something an influencer
understands, produced by the policy's own functions (not copied strings), so a reworded
reason that nobody mapped fails here instead of showing "Waiting for your review"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.models import Contact, Message
from app.moderation.desk import Family, family_of, group_indexes, message_key, reply_key
from app.policy.form import form_problems
from app.policy.guardrails import SENSITIVE_PATTERNS, ungrounded_facts
from app.policy.reasons import Reason
from app.policy.schemas import INTENTS, Policy
from app.policy.service import DecisionInput, DraftFacts, decide
from app.ui.words import (
    INTENT_WORDS,
    SENSITIVE_WORDS,
    UNKNOWN,
    all_words,
    answers,
    certainty,
    follower_label,
    headline,
    reason_words,
)

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def _decision(**overrides: Any) -> list[Reason]:
    values: dict[str, Any] = {
        "policy": Policy(mode="autopilot", min_confidence=0.7),
        "draft": DraftFacts(intent="other", confidence=0.0, needs_human=True),
        "product_scores": {},
        "sensitive": None,
        "ungrounded": [],
        "now": NOW,
    }
    values.update(overrides)
    return decide(DecisionInput(**values)).reasons


def _policy_reasons() -> list[Reason]:
    reasons = _decision()
    reasons += _decision(
        policy=Policy(mode="copilot"),
        drafter_error="daily LLM budget used up ($1.00 of $1.00)",
        account_status="needs_reconnect",
        account_paused=True,
        conversation_paused=True,
        paused_until=NOW + timedelta(minutes=30),
        standby=True,
        auto_replies_today=99,
        recognised_problem=None,
        recognised_intents=frozenset({"price", "product_info"}),
    )
    reasons += _decision(drafter_error="timeout", policy=Policy(mode="off"))
    reasons += ungrounded_facts(
        "Use CODE99 at https://x.example/a for 5 EUR, 20% off on 01/02/2027", []
    )
    reasons += form_problems(
        "Write to someone@mail.example or +49 170 1234567, ask @stranger "
        + "🎉" * 10
        + " https://a.example https://b.example https://c.example https://d.example",
        platform="instagram",
        known_texts=[],
    )
    reasons += form_problems("x " * 700, platform="instagram", known_texts=[])
    return reasons


def test_every_reason_the_policy_writes_has_plain_words() -> None:
    reasons = _policy_reasons()
    assert len(reasons) >= 20
    unmapped = [r for r in reasons if reason_words(r)[1] == UNKNOWN]
    assert unmapped == []
    for words in all_words(reasons):
        assert "confidence 0." not in words
        assert "intent '" not in words
        assert "_" not in words


def test_the_headline_is_the_most_important_reason() -> None:
    engine = ["confidence 0.00 below 0.70", "intent 'other' needs review"]
    assert headline(engine) == "The bot is not sure of this answer"
    assert headline(["drafter asked for a human", *engine]) == (
        "The bot was unsure and left this one to you"
    )
    assert headline([*engine, "sensitive message: health_safety"]) == (
        "Sensitive: the follower mentions a health or safety problem"
    )
    assert headline(["intent 'discount_code' needs review"]) == (
        "Answers about a discount code always wait for you"
    )
    assert headline(["a reason from a future version"]) == UNKNOWN
    assert headline([]) == UNKNOWN


def test_every_sensitive_category_and_intent_has_words() -> None:
    assert set(SENSITIVE_WORDS) == set(SENSITIVE_PATTERNS)
    assert set(INTENT_WORDS) == set(INTENTS)


@pytest.mark.parametrize(
    ("confidence", "threshold", "level"),
    [(0.9, 0.8, "high"), (0.8, 0.8, "high"), (0.65, 0.8, "medium"), (0.42, 0.8, "low")],
)
def test_certainty_is_measured_against_the_accounts_bar(
    confidence: float, threshold: float, level: str
) -> None:
    assert certainty(confidence, threshold).level == level


def test_families_follow_the_reasons() -> None:
    assert family_of(["confidence 0.1 below 0.8", "sensitive message: refund"]) == Family.SENSITIVE
    assert family_of(["needs a person: it names no product of the catalog"]) == (Family.NO_PRODUCT)
    assert family_of(["drafter asked for a human"]) == Family.LOW_CONFIDENCE
    assert family_of(["mode is copilot"]) == Family.OTHER


def test_the_follower_is_named_the_same_way_everywhere() -> None:
    both = Contact(account_id=1, external_id="1784140012345678", name="Mia", username="mia.glow")
    assert follower_label(both) == "Mia"
    only_username = Contact(account_id=1, external_id="1784140012345678", username="mia.glow")
    assert follower_label(only_username) == "@mia.glow"
    nothing = Contact(account_id=1, external_id="1784140012345678")
    assert follower_label(nothing) == "Follower …5678"
    sandbox = Contact(account_id=1, external_id="fan-5")
    assert follower_label(sandbox) == "fan-5"


def test_what_the_message_answers() -> None:
    story = Message(kind="text", payload={"reply_to_story_id": "1799"})
    assert answers(story) == "a reply to a story"
    comment = Message(kind="comment", payload={})
    assert answers(comment) == "a comment on a post"
    post = Message(kind="attachment", payload={"attachments": [{"type": "ig_post"}]})
    assert answers(post) == "a shared post"
    assert answers(Message(kind="text", payload={})) is None
    assert answers(None) is None


def test_grouping_keys_ignore_case_accents_punctuation_emoji_greeting_and_name() -> None:
    assert message_key("Hi! Code for the YÓGA mat?? 🙏") == message_key("code for the yoga mat")
    mia = Contact(account_id=1, external_id="1", name="Mia K.", username="mia_10")
    tom = Contact(account_id=1, external_id="2", name="Tom", username="tommy")
    assert reply_key("Hi Mia! YOGA10 gives 10% off.", mia) == reply_key(
        "Hey Tom, YOGA10 gives 10% off!", tom
    )
    assert reply_key("Hi Mia! YOGA10 gives 10% off.", mia) != reply_key(
        "Hi Tom! YOGA20 gives 20% off.", tom
    )
    items = [
        (0, "a", message_key("code for the yoga mat?"), "1:en"),
        (1, "a", message_key("does it slip when wet?"), "1:en"),
        (2, "a", message_key("Code for the yoga mat pls"), "1:en"),
        (3, "a", message_key("code for the yoga mat?"), "2:en"),  # another account
        (4, "b", message_key("code for the yoga mat?"), "1:en"),  # another answer
    ]
    assert group_indexes(items) == [[0, 2], [1], [3], [4]]
