"""How a draft is decided: sent at once, or queued for a moderator, and why.

The model's word is one input among several. Whatever the rules say, a draft is never sent
automatically when a code, link, price or date in it is not in the catalog, when the
follower's message is sensitive, or when the drafter failed or asked for a human.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from app.policy.reasons import NOT_RECOGNISED_CODES, Reason, ReasonCode, reason_of
from app.policy.schemas import Policy

# How the drafter's error begins when the account's daily LLM budget is spent
# (app/drafting/cost.py): the offline drafter wrote the draft instead.
LLM_BUDGET_ERROR = "daily LLM budget used up"
# Why nothing goes out automatically to a follower who wrote STOP (until START).
OPTED_OUT_REASON = Reason(ReasonCode.OPTED_OUT, "the follower opted out (STOP)")
# An automatic reply must be able to end with the disclosure line (app/outbox/disclosure.py).
DISCLOSURE_ROOM_REASON = Reason(
    ReasonCode.DISCLOSURE_ROOM,
    "longer than one message with the line saying it was sent automatically",
)
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
    ungrounded: Sequence[Reason]
    # The second judge (app/policy/recognise.py): None when our code recognises the
    # message as one that may be answered alone, else why a person must.
    recognised_problem: Reason | None = Reason(ReasonCode.NOT_RECOGNISED, "not checked")
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
    reasons: list[Reason] = field(default_factory=list)


def combined_confidence(draft: DraftFacts, product_scores: Mapping[int, float]) -> float:
    """The model's self-report, capped by how well the follower's words matched the catalog."""
    if draft.intent in SMALL_TALK_INTENTS:
        return round(min(draft.confidence, 0.95), 3)
    used = [s for pid, s in product_scores.items() if pid in set(draft.product_ids)]
    retrieval = max(used or product_scores.values(), default=0.0)
    return round(min(draft.confidence, retrieval), 3)


def _blockers(data: DecisionInput) -> list[Reason]:
    """Reasons that force a human whatever the account's rules."""
    reasons: list[Reason] = []
    if data.drafter_error:
        budget = data.drafter_error.startswith(LLM_BUDGET_ERROR)
        code = ReasonCode.LLM_BUDGET if budget else ReasonCode.DRAFTER_FAILED
        reasons.append(Reason(code, f"drafter failed: {data.drafter_error}"))
    if data.sensitive:
        reasons.append(
            Reason(ReasonCode.SENSITIVE, f"sensitive message: {data.sensitive}", data.sensitive)
        )
    if problem := data.recognised_problem:
        reasons.append(Reason(problem.code, f"needs a person: {problem}"))
    reasons.extend(data.ungrounded)
    if data.draft.needs_human:
        reasons.append(Reason(ReasonCode.NEEDS_HUMAN, "drafter asked for a human"))
    return reasons


def _state_reasons(data: DecisionInput) -> list[Reason]:
    reasons: list[Reason] = []
    if data.account_status != "active":
        reasons.append(Reason(ReasonCode.ACCOUNT_STATE, f"account is {data.account_status}"))
    if data.account_paused:
        reasons.append(Reason(ReasonCode.PAUSED, "automation paused for the account"))
    if data.conversation_paused:
        reasons.append(Reason(ReasonCode.PAUSED, "automation paused for this conversation"))
    if data.paused_until is not None and data.now is not None and data.paused_until > data.now:
        until = f"{data.paused_until:%Y-%m-%d %H:%M}"
        text = f"a human replied recently; bot paused until {until} UTC"
        reasons.append(Reason(ReasonCode.HUMAN_REPLIED, text))
    if data.standby:
        reasons.append(Reason(ReasonCode.THREAD_HELD, "another app or a person holds the thread"))
    if data.opted_out:
        reasons.append(OPTED_OUT_REASON)
    if not data.room_for_disclosure:
        reasons.append(DISCLOSURE_ROOM_REASON)
    limit = data.policy.max_auto_replies_per_conversation_per_day
    if data.auto_replies_today >= limit:
        text = f"daily limit of {limit} automatic replies reached"
        reasons.append(Reason(ReasonCode.DAILY_LIMIT, text))
    return reasons


# The first reason of a decision, as the metrics' closed vocabulary (coarser than the codes).
_METRIC_LABELS = {
    ReasonCode.LLM_BUDGET: "llm_budget",
    ReasonCode.DRAFTER_FAILED: "drafter_failed",
    ReasonCode.SENSITIVE: "sensitive",
    **dict.fromkeys(NOT_RECOGNISED_CODES, "not_recognised"),
    ReasonCode.NEEDS_HUMAN: "needs_human",
    ReasonCode.MODE: "mode",
    ReasonCode.ACCOUNT_STATE: "account_state",
    ReasonCode.PAUSED: "paused",
    ReasonCode.HUMAN_REPLIED: "human_replied",
    ReasonCode.THREAD_HELD: "thread_held",
    ReasonCode.OPTED_OUT: "opted_out",
    ReasonCode.DISCLOSURE_ROOM: "disclosure_room",
    ReasonCode.DAILY_LIMIT: "daily_limit",
    ReasonCode.LOW_CONFIDENCE: "low_confidence",
    ReasonCode.INTENT_NEEDS_REVIEW: "intent_needs_review",
    ReasonCode.ASKS_FOR_REVIEWED: "intent_needs_review",
}


def reason_code(decision: Decision) -> str:
    """`rules_met` for an automatic send, else a short code for the first reason."""
    if decision.decision == "auto":
        return "rules_met"
    if not decision.reasons:
        return "not_grounded"
    # The guardrails' and form checks' findings are all `not_grounded`.
    return _METRIC_LABELS.get(reason_of(decision.reasons[0]).code, "not_grounded")


def decide(data: DecisionInput) -> Decision:
    policy = data.policy
    confidence = combined_confidence(data.draft, data.product_scores)
    reasons = _blockers(data)
    if policy.mode != "autopilot":
        reasons.append(Reason(ReasonCode.MODE, f"mode is {policy.mode}", policy.mode))
    reasons.extend(_state_reasons(data))
    threshold = policy.threshold(data.draft.intent)
    if confidence < threshold:
        text = f"confidence {confidence:.2f} below {threshold:.2f}"
        reasons.append(Reason(ReasonCode.LOW_CONFIDENCE, text))
    intent = data.draft.intent
    if intent not in policy.auto_intents:
        text = f"intent '{intent}' needs review"
        reasons.append(Reason(ReasonCode.INTENT_NEEDS_REVIEW, text, intent))
    held = ", ".join(sorted(data.recognised_intents - set(policy.auto_intents)))
    if held and not data.recognised_problem:
        text = f"the message asks for {held}, which needs review"
        reasons.append(Reason(ReasonCode.ASKS_FOR_REVIEWED, text, held))
    if reasons:
        return Decision("review", confidence, reasons)
    return Decision("auto", confidence, _allowed(confidence, threshold, intent))


def _allowed(confidence: float, threshold: float, intent: str) -> list[Reason]:
    """Why an automatic reply went alone."""
    return [
        Reason(ReasonCode.CONFIDENCE_MET, f"confidence {confidence:.2f} at least {threshold:.2f}"),
        Reason(ReasonCode.INTENT_ALLOWED, f"intent '{intent}' allowed", intent),
        Reason(
            ReasonCode.RECOGNISED_SAFE,
            "the message is one the bot recognises as safe to answer alone",
        ),
        Reason(
            ReasonCode.FACTS_CHECKED,
            "every code, link, price and date is the asked product's, valid today",
        ),
    ]
