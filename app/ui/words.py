"""Plain words for the desk: why a draft waits, how sure the bot is, what a follower asked
about, and who the follower is, in words an influencer understands.

The policy's reasons are prose for the audit log with a code (app/policy/reasons.py). They
are worded here, and only here, by their code; a reason nobody worded yet still reads as
"waiting for your review", and the engine's own words stay one click away on the card.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.models import Contact, Message
from app.moderation.desk import Family
from app.policy.reasons import ReasonCode, reason_of
from app.policy.words import INTENT_TOPICS, intent_topic

FAMILY_WORDS: dict[Family, str] = {
    Family.SENSITIVE: "Sensitive",
    Family.NO_PRODUCT: "No product found",
    Family.LOW_CONFIDENCE: "Bot unsure",
    Family.OTHER: "Other",
}


SENSITIVE_WORDS = {
    "self_harm": "the follower may be in distress: answer personally and with care",
    "prompt_injection": "the message tries to give the bot instructions",
    "harassment": "the message is abusive or harassing",
    "health_safety": "the follower mentions a health or safety problem",
    "legal": "the message mentions lawyers or legal action",
    "minor": "the follower may be under 18",
    "refund": "the follower asks for a refund",
    "delivery_problem": "the follower has a problem with a delivery",
    "complaint": "the follower is complaining",
    "business_request": "a business or collaboration request",
}

# The follower's intents in words: one table, in app/policy/words.py.
INTENT_WORDS = INTENT_TOPICS


def intent_words(intent: str) -> str:
    return intent_topic(intent)


def _intents_in(text: str) -> str:
    names = [n.strip() for n in text.split(",") if n.strip()]
    return ", ".join(intent_words(n) for n in names)


# A reason's code -> (rank, plain words); the rank is how important it is for the headline
# (lower first). Codes with a variable part are worded in `reason_words`.
_C = ReasonCode
# fmt: off
_WORDS: dict[ReasonCode, tuple[int, str]] = {
    _C.LLM_BUDGET: (1, "AI budget used up today: check this simple reply"),
    _C.DRAFTER_FAILED: (1, "The bot could not write a proper reply: check it or write your own"),
    _C.LONG_MESSAGE: (4, "A long message: worth reading yourself"),
    _C.UNKNOWN_WORDS: (5, "The bot did not understand every word"),
    _C.NOTHING_ASKED: (5, "A question the bot does not answer alone"),
    _C.NO_PRODUCT_NAMED: (3, "No product from your catalog is mentioned"),
    _C.OTHER_PRODUCT_NAMED: (4, "The follower asks about more than one product"),
    _C.SEVERAL_PRODUCTS: (4, "The follower asks about more than one product"),
    _C.NOT_RECOGNISED: (5, "The bot is not sure what is asked"),
    _C.NEEDS_HUMAN: (5, "The bot was unsure and left this one to you"),
    _C.PERSONAL_DATA: (2, "The reply contains personal data: check it"),
    _C.DISCLOSURE_ROOM: (3, "Too long to carry the automatic-reply line"),
    _C.TOO_LONG: (3, "The reply is too long for one message"),
    _C.TOO_MANY_LINKS_OR_EMOJI: (3, "The reply has more links or emoji than the bot sends alone"),
    _C.LINK_NONE_IN_CATALOG: (3, "Asked where to buy; the catalog has no link"),
    _C.LINK_MISSING: (3, "Asked where to buy, but the reply has no link"),
    _C.PRICE_NONE_IN_CATALOG: (3, "Asked the price, but the catalog has none"),
    _C.PRICE_MISSING: (3, "Asked the price, but the reply does not give it"),
    _C.CODE_MISSING: (3, "Asked for the code, but the reply does not give it"),
    _C.CODE_NOT_VALID_NOW: (2, "The discount code is not valid right now"),
    _C.CODE_NOT_IN_CATALOG: (2, "Check the facts: a discount code that is not in your catalog"),
    _C.CODE_WRONG: (2, "Check the facts: the discount code looks wrong or expired"),
    _C.LINK_WRONG: (2, "Check the facts: a link that is not the product's"),
    _C.PRICE_WRONG: (2, "Check the facts: a price that is not the product's"),
    _C.PERCENT_WRONG: (2, "Check the facts: a discount that is not in the catalog"),
    _C.DATE_WRONG: (2, "Check the facts: a date that is not the product's"),
    _C.OTHER_PRODUCT_ANSWERED: (
        2, "The reply talks about a product the follower did not ask about"
    ),
    _C.ACCOUNT_STATE: (6, "The account needs attention (reconnect it on the accounts page)"),
    _C.PAUSED: (6, "Automatic replies are paused"),
    _C.HUMAN_REPLIED: (6, "You answered this follower recently, so the bot waits"),
    _C.THREAD_HELD: (6, "Another app or a person is handling this chat"),
    _C.OPTED_OUT: (6, "The follower wrote STOP: no automatic messages to them"),
    _C.DAILY_LIMIT: (6, "The bot already sent its daily number of replies to this follower"),
    _C.LOW_CONFIDENCE: (7, "The bot is not sure of this answer"),
}
# fmt: on
UNKNOWN = "Waiting for your review"


def reason_words(reason: object) -> tuple[int, str]:
    """(importance, words) of one reason, made now or stored; lower importance first."""
    found = reason_of(reason)
    detail = found.detail or ""
    match found.code:
        case ReasonCode.SENSITIVE:
            return 0, "Sensitive: " + SENSITIVE_WORDS.get(detail, detail.replace("_", " "))
        case ReasonCode.INTENT_NEEDS_REVIEW:
            return 8, f"Answers about {intent_words(detail)} always wait for you"
        case ReasonCode.ASKS_FOR_REVIEWED:
            return 8, f"Asks about {_intents_in(detail)}, which you review"
        case ReasonCode.MODE if detail == "copilot":
            return 8, "You review every reply (copilot mode)"
        case ReasonCode.MODE:
            return 8, "Automatic sending is off for this account"
    return _WORDS.get(found.code, (9, UNKNOWN))


def headline(reasons: Sequence[Any]) -> str:
    """The one line a card leads with: the most important reason, in plain words."""
    if not reasons:
        return UNKNOWN
    return min((reason_words(r) for r in reasons), key=lambda pair: pair[0])[1]


def all_words(reasons: Sequence[Any]) -> list[str]:
    """Every reason in plain words, most important first, each once."""
    seen: dict[str, int] = {}
    for reason in reasons:
        rank, words = reason_words(reason)
        seen.setdefault(words, rank)
    return sorted(seen, key=lambda words: seen[words])


@dataclass(frozen=True, slots=True)
class Certainty:
    level: str  # low | medium | high
    tone: str  # a badge class


def certainty(confidence: float, threshold: float) -> Certainty:
    """The bot's confidence against the account's bar: high when it clears it, medium when
    it is close (within a quarter of the bar), else low."""
    if confidence >= threshold:
        return Certainty("high", "ok")
    if confidence >= threshold * 0.75:
        return Certainty("medium", "warn")
    return Certainty("low", "bad")


# The follower, the same everywhere


def follower_label(contact: Contact) -> str:
    """The follower's short name: their name, else @username, else a stable label made from
    the id Meta gave us (short ids, like the simulator's, are shown whole)."""
    if contact.name:
        return contact.name
    if contact.username:
        return f"@{contact.username}"
    external = contact.external_id
    return external if len(external) <= 10 else f"Follower …{external[-4:]}"


def follower_handle(contact: Contact) -> str | None:
    """The @username, when a name already leads (so both show)."""
    return f"@{contact.username}" if contact.name and contact.username else None


def answers(message: Message | None) -> str | None:
    """What the follower's message answers, when Meta told us: a story, a post, a comment."""
    if message is None:
        return None
    payload = message.payload or {}
    if message.kind == "comment":
        return "a comment on a post"
    if payload.get("reply_to_story_id") or payload.get("reply_to_story_url"):
        return "a reply to a story"
    kinds = {str(a.get("type")) for a in payload.get("attachments") or () if isinstance(a, dict)}
    if "story_mention" in kinds:
        return "a story mention"
    if kinds & {"ig_post", "share", "reel", "ig_reel"}:
        return "a shared post"
    if payload.get("referral_source") or payload.get("referral_ref"):
        return "came from a link or ad"
    return None


def private_reply_words(kind: str, message: Message | None) -> str | None:
    """What a draft of kind `comment` is: a private message to someone who commented, and
    under which post (its Instagram media id or Facebook post id). None for a DM."""
    if kind != "comment":
        return None
    post = (message.payload or {}).get("media_id") if message is not None else None
    return f"Private reply to a comment on post {post}" if post else "Private reply to a comment"


def jinja_globals() -> dict[str, Any]:
    """What every page's templates may call (app/web.py registers them once)."""
    return {
        "follower_label": follower_label,
        "follower_handle": follower_handle,
        "answers": answers,
        "private_reply_words": private_reply_words,
        "headline": headline,
        "reason_words": all_words,
        "certainty": certainty,
        "intent_words": intent_words,
        "family_words": FAMILY_WORDS,
    }
