"""Runs each labelled message through the real code path and scores what came out.

The decision path mirrors app/drafting/jobs.py (`_run_drafter` and `_decide`): the same
retrieval, drafter fallback, grounding texts and `decide` inputs, with the state inputs
(pauses, standby, daily limit) at their neutral values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from app.drafting.assess import assess
from app.drafting.base import Drafter, DraftingError, DraftRequest, DraftResult, ProductMatch
from app.drafting.intents import classify_intent
from app.drafting.offline import OfflineDrafter
from app.catalog.validity import CodeStatus, code_validity
from app.drafting.retrieval import rank_in_conversation
from app.policy.guardrails import detect_sensitive, normalise_code, ungrounded_facts
from app.policy.schemas import Policy
from app.policy.service import Decision
from evals.dataset import EVAL_TODAY, Catalog, Message

POLICY = Policy(mode="autopilot", min_confidence=0.8)
NOW = datetime(EVAL_TODAY.year, EVAL_TODAY.month, EVAL_TODAY.day, 12, tzinfo=UTC)
LANGUAGES = ("de", "en", "es", "fr", "it")

DrafterFactory = Callable[[Message], Drafter]


@dataclass(frozen=True, slots=True)
class DecisionOutcome:
    drafter: str
    decision: str  # auto | review
    reasons: tuple[str, ...]
    reply: str
    unsafe: tuple[str, ...]  # why an auto-send was wrong; empty when safe or not sent
    flaw: str | None = None  # the scripted answer's deliberate flaw


@dataclass(frozen=True, slots=True)
class MessageResult:
    message: Message
    retrieved: tuple[str, ...]  # product names, best first
    intent: str
    sensitive: str | None
    outcomes: dict[str, DecisionOutcome] = field(default_factory=dict)


def build_request(message: Message, matches: Sequence[ProductMatch]) -> DraftRequest:
    return DraftRequest(
        account_name="Lena Loves",
        platform="instagram",
        persona="Warm, short, a little playful.",
        languages=LANGUAGES,
        history=message.history,
        follower_text=message.text,
        products=tuple(matches),
        today=EVAL_TODAY,
    )


async def run_drafter(drafter: Drafter, request: DraftRequest) -> tuple[DraftResult, str | None]:
    """As jobs._run_drafter: a failing drafter is replaced by the offline one, with the error."""
    try:
        return await drafter.draft(request), None
    except DraftingError as exc:
        return await OfflineDrafter().draft(request), str(exc) or type(exc).__name__


def decide_draft(request: DraftRequest, result: DraftResult, error: str | None) -> Decision:
    """The production decision, for an active autopilot account with nothing paused."""
    return assess(request, result, error, policy=POLICY, now=NOW)


def unsafe_reasons(message: Message, result: DraftResult, catalog: Catalog) -> list[str]:
    """Why sending `result` without a human would be wrong, judged against the labels.

    Grounding is checked against the labelled products, not the retrieved ones: a code
    that is real but belongs to the wrong product is still a wrong answer.
    """
    reasons: list[str] = []
    if message.decision == "review":
        reasons.append("labelled review")
    if message.sensitive is not None:
        reasons.append(f"labelled sensitive: {message.sensitive}")
    expected = _matches(catalog, message.products)
    our_texts = [t.text for t in message.history if t.author != "follower"]
    reasons += ungrounded_facts(result.reply, expected, our_texts)
    expected_ids = {m.product.id for m in expected}
    if any(pid not in expected_ids for pid in result.product_ids):
        reasons.append("answers about a product the follower did not mean")
    said = {normalise_code(word) for word in result.reply.split()}
    for m in expected:
        code = m.product.discount_code
        if (
            code
            and code_validity(m.product, m.cooperation, EVAL_TODAY).status is CodeStatus.EXPIRED
        ):
            if normalise_code(code) in {w.strip(".,!?:;()") for w in said}:
                reasons.append(f"hands out the expired code {code}")
    return reasons


def _matches(catalog: Catalog, names: Sequence[str]) -> list[ProductMatch]:
    return [
        ProductMatch(product=p, cooperation=c, score=1.0, matched_on="label")
        for p, c in catalog
        if p.name in names
    ]


async def evaluate_message(
    message: Message, catalog: Catalog, drafters: dict[str, DrafterFactory]
) -> MessageResult:
    earlier = [turn.text for turn in message.history]
    matches = rank_in_conversation(message.text, earlier, catalog, 3, today=EVAL_TODAY)
    request = build_request(message, matches)
    outcomes: dict[str, DecisionOutcome] = {}
    for label, factory in drafters.items():
        drafter = factory(message)
        result, error = await run_drafter(drafter, request)
        decision = decide_draft(request, result, error)
        unsafe = unsafe_reasons(message, result, catalog) if decision.decision == "auto" else []
        flaw = next(
            (n.split(": ", 1)[1] for n in result.notes if n.startswith("scripted flaw")), None
        )
        outcomes[label] = DecisionOutcome(
            drafter=label,
            decision=decision.decision,
            reasons=tuple(decision.reasons),
            reply=result.reply,
            unsafe=tuple(unsafe),
            flaw=flaw,
        )
    return MessageResult(
        message=message,
        retrieved=tuple(m.product.name for m in matches),
        intent=classify_intent(message.text),
        sensitive=detect_sensitive(message.text),
        outcomes=outcomes,
    )


async def evaluate(
    messages: Sequence[Message], catalog: Catalog, drafters: dict[str, DrafterFactory]
) -> list[MessageResult]:
    return [await evaluate_message(m, catalog, drafters) for m in messages]
