"""Plain words for the desk: why a draft waits, how sure the bot is, what a follower asked
about, and who the follower is, in words an influencer understands.

The policy's reasons are prose for the audit log (app/policy/service.py, grounding.py,
guardrails.py, form.py, recognise.py). They are mapped here, and only here, by their
stable prefix; a reason nobody mapped yet still reads as "waiting for your review", and
the engine's own words stay one click away on the card.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.models import Contact, Message
from app.moderation.desk import Family
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


# Prefix of a stored reason -> plain words. Ordered: the first match wins; the rank is how
# important it is for the headline (lower first).
_Words = tuple[str, int, str]
# fmt: off
_PREFIXES: tuple[_Words, ...] = (
    ("drafter failed: daily LLM budget", 1, "AI budget used up today: check this simple reply"),
    ("drafter failed", 1, "The bot could not write a proper reply: check it or write your own"),
    ("needs a person: a long message", 4, "A long message: worth reading yourself"),
    ("needs a person: words the bot does not know", 5, "The bot did not understand every word"),
    ("needs a person: it asks nothing", 5, "A question the bot does not answer alone"),
    ("needs a person: it names no product", 3, "No product from your catalog is mentioned"),
    ("needs a person: it also names", 4, "The follower asks about more than one product"),
    ("needs a person: it asks about several", 4, "The follower asks about more than one product"),
    ("needs a person", 5, "The bot is not sure what is asked"),
    ("drafter asked for a human", 5, "The bot was unsure and left this one to you"),
    ("personal data", 2, "The reply contains personal data: check it"),
    ("longer than one message with the line", 3, "Too long to carry the automatic-reply line"),
    ("longer than one", 3, "The reply is too long for one message"),
    ("asked for a link; the catalog has none", 3, "Asked where to buy; the catalog has no link"),
    ("asked for a link", 3, "Asked where to buy, but the reply has no link"),
    ("asked for the price; the catalog has none", 3, "Asked the price, but the catalog has none"),
    ("asked for the price", 3, "Asked the price, but the reply does not give it"),
    ("asked for the code", 3, "Asked for the code, but the reply does not give it"),
    ("the code of", 2, "The discount code is not valid right now"),
    ("discount code", 2, "Check the facts: a discount code that is not in your catalog"),
    ("code ", 2, "Check the facts: the discount code looks wrong or expired"),
    ("link ", 2, "Check the facts: a link that is not the product's"),
    ("price ", 2, "Check the facts: a price that is not the product's"),
    ("percentage ", 2, "Check the facts: a discount that is not in the catalog"),
    ("date ", 2, "Check the facts: a date that is not the product's"),
    ("the reply is about", 2, "The reply talks about a product the follower did not ask about"),
    ("mentions @", 2, "The reply mentions someone who is not in the conversation"),
    ("account is", 6, "The account needs attention (reconnect it on the accounts page)"),
    ("automation paused", 6, "Automatic replies are paused"),
    ("a human replied recently", 6, "You answered this follower recently, so the bot waits"),
    ("another app", 6, "Another app or a person is handling this chat"),
    ("the follower opted out", 6, "The follower wrote STOP: no automatic messages to them"),
    ("daily limit", 6, "The bot already sent its daily number of replies to this follower"),
    ("mode is copilot", 8, "You review every reply (copilot mode)"),
    ("mode is", 8, "Automatic sending is off for this account"),
    ("confidence", 7, "The bot is not sure of this answer"),
)
# fmt: on
_EMOJI_OR_LINKS = re.compile(r"^\d+ (links|emoji) \(at most")
_INTENT_REVIEW = re.compile(r"^intent '(?P<intent>.+)' needs review$")
_ASKS_FOR = re.compile(r"^the message asks for (?P<intents>.+), which needs review$")
_SENSITIVE = "sensitive message: "
UNKNOWN = "Waiting for your review"


def reason_words(reason: object) -> tuple[int, str]:
    """(importance, words) of one stored reason; lower importance comes first."""
    text = str(reason)
    if text.startswith(_SENSITIVE):
        category = text.removeprefix(_SENSITIVE)
        return 0, "Sensitive: " + SENSITIVE_WORDS.get(category, category.replace("_", " "))
    if found := _INTENT_REVIEW.match(text):
        return 8, f"Answers about {intent_words(found['intent'])} always wait for you"
    if found := _ASKS_FOR.match(text):
        return 8, f"Asks about {_intents_in(found['intents'])}, which you review"
    if _EMOJI_OR_LINKS.match(text):
        return 3, "The reply has more links or emoji than the bot sends alone"
    for prefix, rank, words in _PREFIXES:
        if text.startswith(prefix):
            return rank, words
    return 9, UNKNOWN


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
