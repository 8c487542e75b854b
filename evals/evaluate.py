"""Runs each labelled message through the real code path and records what came out.

The decision path is the production one: `rank_in_conversation` for retrieval, the
drafter with the offline fallback of the draft job, and `assess` (the checks in code and
the decision) for an active autopilot account with nothing paused. How each draft is
judged against the labels lives in `judge.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from app.drafting.assess import assess
from app.drafting.base import Drafter, DraftingError, DraftRequest, DraftResult, ProductMatch
from app.drafting.intents import classify_intent
from app.drafting.offline import OfflineDrafter, which_question
from app.drafting.retrieval import rank_in_conversation
from app.policy.guardrails import detect_sensitive
from app.policy.schemas import Policy
from app.policy.service import Decision
from evals.dataset import EVAL_TODAY, Catalog, Message
from evals.judge import (
    code_problems,
    labelled_matches,
    only_valid_codes,
    says_expired,
    unsafe_reasons,
)

POLICY = Policy(mode="autopilot", min_confidence=0.8)
LANGUAGES = ("de", "en", "es", "fr", "it")

DrafterFactory = Callable[[Message], Drafter]


@dataclass(frozen=True, slots=True)
class DecisionOutcome:
    drafter: str
    decision: str  # auto | review
    reasons: tuple[str, ...]
    reply: str
    unsafe: tuple[str, ...]  # why an auto-send was wrong; empty when safe or not sent
    flaw: str | None = None  # the flawed drafter's deliberate flaw
    language: str = ""  # the language the draft says it is in
    wrong_codes: tuple[str, ...] = ()  # codes in the reply that may not go out, sent or not
    says_expired: bool = False  # the reply calls a code expired


@dataclass(frozen=True, slots=True)
class MessageResult:
    message: Message
    retrieved: tuple[str, ...]  # product names, best first
    intent: str
    sensitive: str | None
    outcomes: dict[str, DecisionOutcome] = field(default_factory=dict)
    only_valid_codes: bool = False  # every labelled product with a code has a valid one


def build_request(
    message: Message,
    matches: Sequence[ProductMatch],
    today: date,
    account_name: str = "Lena Loves",
) -> DraftRequest:
    return DraftRequest(
        account_name=account_name,
        platform="instagram",
        persona="Warm, short, a little playful.",
        languages=LANGUAGES,
        history=message.history,
        follower_text=message.text,
        products=tuple(matches),
        today=today,
    )


async def run_drafter(drafter: Drafter, request: DraftRequest) -> tuple[DraftResult, str | None]:
    """As the draft job: code's question when the message fits several products it cannot
    tell apart, and a failing drafter replaced by the offline one, with the error."""
    question = await which_question(request)
    if question is not None:
        return question, None
    try:
        return await drafter.draft(request), None
    except DraftingError as exc:
        return await OfflineDrafter().draft(request), str(exc) or type(exc).__name__


def noon(today: date) -> datetime:
    return datetime(today.year, today.month, today.day, 12, tzinfo=UTC)


def decide_draft(request: DraftRequest, result: DraftResult, error: str | None) -> Decision:
    """The production decision, for an active autopilot account with nothing paused."""
    return assess(request, result, error, policy=POLICY, now=noon(request.today))


async def outcome_of(
    label: str, drafter: Drafter, message: Message, request: DraftRequest, catalog: Catalog
) -> DecisionOutcome:
    today = request.today
    result, error = await run_drafter(drafter, request)
    decision = decide_draft(request, result, error)
    sent = decision.decision == "auto"
    flaw = next((n.split(": ", 1)[1] for n in result.notes if n.startswith("scripted flaw")), None)
    expected = labelled_matches(catalog, message.products)
    return DecisionOutcome(
        drafter=label,
        decision=decision.decision,
        reasons=tuple(decision.reasons),
        reply=result.reply,
        unsafe=tuple(unsafe_reasons(message, result, catalog, today)) if sent else (),
        flaw=flaw,
        language=result.language,
        wrong_codes=tuple(code_problems(result.reply, expected, catalog, today)),
        says_expired=says_expired(result.reply),
    )


async def evaluate_message(
    message: Message,
    catalog: Catalog,
    drafters: dict[str, DrafterFactory],
    today: date,
    account_name: str = "Lena Loves",
) -> MessageResult:
    earlier = [turn.text for turn in message.history]
    matches = rank_in_conversation(message.text, earlier, catalog, 3, today=today)
    request = build_request(message, matches, today, account_name)
    outcomes = {
        label: await outcome_of(label, factory(message), message, request, catalog)
        for label, factory in drafters.items()
    }
    return MessageResult(
        message=message,
        retrieved=tuple(m.product.name for m in matches),
        intent=classify_intent(message.text),
        sensitive=detect_sensitive(message.text),
        outcomes=outcomes,
        only_valid_codes=only_valid_codes(message, catalog, today),
    )


async def evaluate(
    messages: Sequence[Message],
    catalog: Catalog,
    drafters: dict[str, DrafterFactory],
    today: date = EVAL_TODAY,
    account_name: str = "Lena Loves",
) -> list[MessageResult]:
    return [await evaluate_message(m, catalog, drafters, today, account_name) for m in messages]
