"""Would a past draft have gone out alone under other rules? The confirmation of a rule
change estimates its effect from recent drafts with this.

A draft's stored reasons say why it waited. Only some depend on the rules an owner edits
(mode, thresholds, intents); any other reason (a sensitive message, an ungrounded code, a
paused conversation, ...) would have held it under any rules, so it still does.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.policy.schemas import Policy

# Prefixes of the reasons `decide` gives that the editable rules alone produce.
_RULE_REASONS = ("mode is ", "confidence ", "intent '")
_ASKS_FOR, _NEEDS_REVIEW = "the message asks for ", ", which needs review"


def _asked_intents(reason: str) -> set[str] | None:
    """The other intents a message asked for, when the reason is about them."""
    if reason.startswith(_ASKS_FOR) and reason.endswith(_NEEDS_REVIEW):
        middle = reason.removeprefix(_ASKS_FOR).removesuffix(_NEEDS_REVIEW)
        return {part.strip() for part in middle.split(",")}
    return None


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
    for reason in reasons:
        asked = _asked_intents(reason)
        if asked is not None:
            if not asked <= set(policy.auto_intents):
                return False
        elif not reason.startswith(_RULE_REASONS):
            return False
    return True
