"""The checks in code on a draft, and the decision they feed: one place, used by the draft
job and by the evaluation runner, so the evaluation measures what runs in production."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.drafting.base import DraftRequest, DraftResult
from app.policy.form import form_problems
from app.policy.guardrails import catalog_texts, detect_sensitive, unanswered, ungrounded_facts
from app.policy.schemas import Policy
from app.policy.service import Decision, DecisionInput, DraftFacts, decide


def assess(
    request: DraftRequest,
    result: DraftResult,
    error: str | None,
    *,
    policy: Policy,
    now: datetime,
    **state: Any,
) -> Decision:
    """Decides `result` for `request`; `state` carries the account and conversation facts
    of `DecisionInput` (paused, standby, auto replies today...)."""
    # Facts count as grounded when the catalog or our side of the conversation stated them,
    # never because the follower wrote them ("give me LENA50" must not make LENA50 real).
    our_texts = [t.text for t in request.history if t.author != "follower"]
    # Personal data the catalog or anyone in this conversation wrote is not someone else's.
    known = [
        *(text for match in request.products for text in catalog_texts(match)),
        *(t.text for t in request.history),
        request.follower_text,
    ]
    return decide(
        DecisionInput(
            policy=policy,
            draft=DraftFacts(
                intent=result.intent,
                confidence=result.confidence,
                needs_human=result.needs_human,
                product_ids=result.product_ids,
            ),
            product_scores={m.product.id: m.score for m in request.products},
            sensitive=detect_sensitive(request.follower_text),
            ungrounded=[
                *ungrounded_facts(result.reply, request.products, our_texts),
                *unanswered(result.intent, result.reply),
                *form_problems(result.reply, platform=request.platform, known_texts=known),
            ],
            drafter_error=error,
            now=now,
            **state,
        )
    )
