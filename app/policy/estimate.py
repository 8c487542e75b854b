"""Would a past draft have gone out alone under other rules? The confirmation of a rule
change estimates its effect from recent drafts with this.

A draft's stored reasons say why it waited. Only some depend on the rules an owner edits
(mode, thresholds, intents); any other reason (a sensitive message, an ungrounded code, a
paused conversation, ...) would have held it under any rules, so it still does.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.policy.reasons import ReasonCode, reason_of
from app.policy.schemas import Policy

# The reasons `decide` gives that the editable rules alone produce (re-checked below).
_RULE_REASONS = frozenset(
    {
        ReasonCode.MODE,
        ReasonCode.LOW_CONFIDENCE,
        ReasonCode.CONFIDENCE_MET,
        ReasonCode.INTENT_NEEDS_REVIEW,
        ReasonCode.INTENT_ALLOWED,
    }
)


def would_send(
    policy: Policy, *, intent: str, confidence: float, decision: str, reasons: Sequence[str]
) -> bool:
    """`decision` and `reasons` as the draft stored them (an `auto` draft's reasons say why
    it was allowed, so nothing held it but the rules)."""
    if policy.mode != "autopilot" or intent not in policy.auto_intents:
        return False
    if confidence < policy.threshold(intent):
        return False
    if decision == "auto":
        return True
    for stored in reasons:
        reason = reason_of(stored)
        if reason.code is ReasonCode.ASKS_FOR_REVIEWED:
            asked = {part.strip() for part in (reason.detail or "").split(",")}
            if not asked <= set(policy.auto_intents):
                return False
        elif reason.code not in _RULE_REASONS:
            return False
    return True
