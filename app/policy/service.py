"""How a draft is decided: sent at once, or queued for a moderator, and why.

The model's word is one input among several. Whatever the rules say, a draft is never sent
automatically when a code, link, price or date in it is not in the catalog, when the
follower's message is sensitive, or when the drafter failed or asked for a human.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from app.policy.schemas import Policy

# Why nothing goes out automatically to a follower who wrote STOP (until START).
OPTED_OUT_REASON = "the follower opted out (STOP)"
# An automatic reply must be able to end with the disclosure line (app/outbox/disclosure.py).
DISCLOSURE_ROOM_REASON = "longer than one message with the line saying it was sent automatically"
# Intents that need no product to be answered well.
SMALL_TALK_INTENTS = {"greeting", "thanks"}


@dataclass(frozen=True, slots=True)
class DraftFacts:
    """What the drafter said about its draft."""

    intent: str
    confidence: float  # the drafter's self-report, 0..1
    needs_human: bool = False
    product_ids: Sequence[int] = ()


@dataclass(frozen=True, slots=True)
class DecisionInput:
    policy: Policy
    draft: DraftFacts
    product_scores: Mapping[int, float]  # retrieved product id -> retrieval score, 0..1
    sensitive: str | None
    ungrounded: Sequence[str]
    # The second judge (app/policy/recognise.py): None when our code recognises the
    # message as one that may be answered alone, else why a person must.
    recognised_problem: str | None = "not checked"
    recognised_intents: frozenset[str] = frozenset()
    drafter_error: str | None = None
    account_status: str = "active"
    account_paused: bool = False
    conversation_paused: bool = False
    paused_until: datetime | None = None
    standby: bool = False
    opted_out: bool = False  # the follower wrote STOP (app/conversations/optout.py)
    # The reply still fits in one message once the disclosure line is added to it
    # (app/outbox/disclosure.py): an automatic reply must be able to carry it.
    room_for_disclosure: bool = True
    auto_replies_today: int = 0
    now: datetime | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    decision: str  # auto | review
    confidence: float
    reasons: list[str] = field(default_factory=list)


def combined_confidence(draft: DraftFacts, product_scores: Mapping[int, float]) -> float:
    """The model's self-report, capped by how well the follower's words matched the catalog."""
    if draft.intent in SMALL_TALK_INTENTS:
        return round(min(draft.confidence, 0.95), 3)
    used = [s for pid, s in product_scores.items() if pid in set(draft.product_ids)]
    retrieval = max(used or product_scores.values(), default=0.0)
    return round(min(draft.confidence, retrieval), 3)


def _blockers(data: DecisionInput) -> list[str]:
    """Reasons that force a human whatever the account's rules."""
    reasons: list[str] = []
    if data.drafter_error:
        reasons.append(f"drafter failed: {data.drafter_error}")
    if data.sensitive:
        reasons.append(f"sensitive message: {data.sensitive}")
    if data.recognised_problem:
        reasons.append(f"needs a person: {data.recognised_problem}")
    reasons.extend(data.ungrounded)
    if data.draft.needs_human:
        reasons.append("drafter asked for a human")
    return reasons


def _state_reasons(data: DecisionInput) -> list[str]:
    reasons: list[str] = []
    if data.account_status != "active":
        reasons.append(f"account is {data.account_status}")
    if data.account_paused:
        reasons.append("automation paused for the account")
    if data.conversation_paused:
        reasons.append("automation paused for this conversation")
    if data.paused_until is not None and data.now is not None and data.paused_until > data.now:
        reasons.append(
            f"a human replied recently; bot paused until {data.paused_until:%Y-%m-%d %H:%M} UTC"
        )
    if data.standby:
        reasons.append("another app or a person holds the thread")
    if data.opted_out:
        reasons.append(OPTED_OUT_REASON)
    if not data.room_for_disclosure:
        reasons.append(DISCLOSURE_ROOM_REASON)
    limit = data.policy.max_auto_replies_per_conversation_per_day
    if data.auto_replies_today >= limit:
        reasons.append(f"daily limit of {limit} automatic replies reached")
    return reasons


# The first reason of a decision, as a closed vocabulary for metrics (reasons are prose).
_REASON_CODES = (
    ("drafter failed: daily LLM budget", "llm_budget"),
    ("drafter failed", "drafter_failed"),
    ("sensitive message", "sensitive"),
    ("needs a person", "not_recognised"),
    ("drafter asked for a human", "needs_human"),
    ("mode is", "mode"),
    ("account is", "account_state"),
    ("automation paused", "paused"),
    ("a human replied recently", "human_replied"),
    ("another app", "thread_held"),
    ("the follower opted out", "opted_out"),
    ("longer than one message with the line", "disclosure_room"),
    ("daily limit", "daily_limit"),
    ("confidence", "low_confidence"),
    ("intent", "intent_needs_review"),
)


def reason_code(decision: Decision) -> str:
    """`rules_met` for an automatic send, else a short code for the first reason."""
    if decision.decision == "auto":
        return "rules_met"
    first = decision.reasons[0] if decision.reasons else ""
    for prefix, code in _REASON_CODES:
        if first.startswith(prefix):
            return code
    return "not_grounded"  # the guardrails' and form checks' findings


def decide(data: DecisionInput) -> Decision:
    policy = data.policy
    confidence = combined_confidence(data.draft, data.product_scores)
    reasons = _blockers(data)
    if policy.mode != "autopilot":
        reasons.append(f"mode is {policy.mode}")
    reasons.extend(_state_reasons(data))
    threshold = policy.threshold(data.draft.intent)
    if confidence < threshold:
        reasons.append(f"confidence {confidence:.2f} below {threshold:.2f}")
    if data.draft.intent not in policy.auto_intents:
        reasons.append(f"intent '{data.draft.intent}' needs review")
    held = sorted(data.recognised_intents - set(policy.auto_intents))
    if held and not data.recognised_problem:
        reasons.append(f"the message asks for {', '.join(held)}, which needs review")
    if reasons:
        return Decision("review", confidence, reasons)
    return Decision(
        "auto",
        confidence,
        [
            f"confidence {confidence:.2f} at least {threshold:.2f}",
            f"intent '{data.draft.intent}' allowed",
            "the message is one the bot recognises as safe to answer alone",
            "every code, link, price and date is the asked product's, valid today",
        ],
    )
