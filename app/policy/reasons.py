"""Why a draft waits (or went alone): a reason is a code and the sentence for the audit log.

Each reason is made where it is decided (service.py, grounding.py, guardrails.py, form.py,
recognise.py) with its code; consumers (the metrics label, the desk's plain words, the
estimate of a rule change) read the code, never the prose. A `Reason` is a `str` (its
sentence) carrying its code, so `drafts.reasons` and the API stay a list of sentences.

Drafts stored before reasons had codes, and every row read back from the database, hold
the sentences only: `reason_of` gives their code from the sentence, here and nowhere else.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any


class ReasonCode(StrEnum):
    # The drafter
    LLM_BUDGET = "llm_budget"
    DRAFTER_FAILED = "drafter_failed"
    NEEDS_HUMAN = "needs_human"
    # The follower's message (app/policy/guardrails.py, recognise.py)
    SENSITIVE = "sensitive"
    LONG_MESSAGE = "long_message"
    UNKNOWN_WORDS = "unknown_words"
    NOTHING_ASKED = "nothing_asked"
    NO_PRODUCT_NAMED = "no_product_named"
    OTHER_PRODUCT_NAMED = "other_product_named"
    SEVERAL_PRODUCTS = "several_products"
    NOT_RECOGNISED = "not_recognised"
    ASKS_FOR_REVIEWED = "asks_for_reviewed"
    # The reply's facts (grounding.py, guardrails.py)
    OTHER_PRODUCT_ANSWERED = "other_product_answered"
    CODE_WRONG = "code_wrong"
    CODE_NOT_IN_CATALOG = "code_not_in_catalog"
    CODE_NOT_VALID_NOW = "code_not_valid_now"
    CODE_MISSING = "code_missing"
    LINK_WRONG = "link_wrong"
    LINK_NONE_IN_CATALOG = "link_none_in_catalog"
    LINK_MISSING = "link_missing"
    PRICE_WRONG = "price_wrong"
    PRICE_NONE_IN_CATALOG = "price_none_in_catalog"
    PRICE_MISSING = "price_missing"
    PERCENT_WRONG = "percent_wrong"
    DATE_WRONG = "date_wrong"
    # The reply's form (form.py)
    PERSONAL_DATA = "personal_data"
    TOO_LONG = "too_long"
    TOO_MANY_LINKS_OR_EMOJI = "too_many_links_or_emoji"
    DISCLOSURE_ROOM = "disclosure_room"
    # The account's and the conversation's state
    ACCOUNT_STATE = "account_state"
    PAUSED = "paused"
    HUMAN_REPLIED = "human_replied"
    THREAD_HELD = "thread_held"
    OPTED_OUT = "opted_out"
    DAILY_LIMIT = "daily_limit"
    # The rules an owner edits (app/policy/estimate.py re-applies these alone)
    MODE = "mode"
    LOW_CONFIDENCE = "low_confidence"
    INTENT_NEEDS_REVIEW = "intent_needs_review"
    # Why an automatic reply was allowed
    CONFIDENCE_MET = "confidence_met"
    INTENT_ALLOWED = "intent_allowed"
    RECOGNISED_SAFE = "recognised_safe"
    FACTS_CHECKED = "facts_checked"
    # A sentence no rule here knows (an older wording)
    OTHER = "other"


# Why our code did not recognise the follower's message (app/policy/recognise.py).
NOT_RECOGNISED_CODES = frozenset(
    {
        ReasonCode.LONG_MESSAGE,
        ReasonCode.UNKNOWN_WORDS,
        ReasonCode.NOTHING_ASKED,
        ReasonCode.NO_PRODUCT_NAMED,
        ReasonCode.OTHER_PRODUCT_NAMED,
        ReasonCode.SEVERAL_PRODUCTS,
        ReasonCode.NOT_RECOGNISED,
    }
)


class Reason(str):
    """One reason: the sentence (this string) and its `code`; `detail` is the variable part
    a reader needs (a sensitive category, an intent, intents joined by ", ", a mode)."""

    code: ReasonCode
    detail: str | None

    def __new__(cls, code: ReasonCode, text: str, detail: str | None = None) -> Reason:
        reason = super().__new__(cls, text)
        reason.code = code
        reason.detail = detail
        return reason

    def __reduce__(self) -> tuple[Any, ...]:
        return (Reason, (self.code, str(self), self.detail))


# The sentences' variable parts, for reading stored reasons back (`reason_of`).
_INTENT_REVIEW = re.compile(r"^intent '(?P<detail>.+)' needs review$")
_ASKS_FOR = re.compile(r"^the message asks for (?P<detail>.+), which needs review$")
_MODE = re.compile(r"^mode is (?P<detail>\S+)$")
_SENSITIVE = re.compile(r"^sensitive message: (?P<detail>.+)$")
_LINKS_OR_EMOJI = re.compile(r"^\d+ (links|emoji) \(at most")
_CONFIDENCE_MET = re.compile(r"^confidence \S+ at least ")
_INTENT_ALLOWED = re.compile(r"^intent '(?P<detail>.+)' allowed$")
_PATTERNS: tuple[tuple[re.Pattern[str], ReasonCode], ...] = (
    (_SENSITIVE, ReasonCode.SENSITIVE),
    (_INTENT_REVIEW, ReasonCode.INTENT_NEEDS_REVIEW),
    (_ASKS_FOR, ReasonCode.ASKS_FOR_REVIEWED),
    (_MODE, ReasonCode.MODE),
    (_LINKS_OR_EMOJI, ReasonCode.TOO_MANY_LINKS_OR_EMOJI),
    (_CONFIDENCE_MET, ReasonCode.CONFIDENCE_MET),
    (_INTENT_ALLOWED, ReasonCode.INTENT_ALLOWED),
)
# Ordered: the first prefix that matches wins.
# fmt: off
_PREFIXES: tuple[tuple[str, ReasonCode], ...] = (
    ("drafter failed: daily LLM budget", ReasonCode.LLM_BUDGET),
    ("drafter failed", ReasonCode.DRAFTER_FAILED),
    ("needs a person: a long message", ReasonCode.LONG_MESSAGE),
    ("needs a person: words the bot does not know", ReasonCode.UNKNOWN_WORDS),
    ("needs a person: it asks nothing", ReasonCode.NOTHING_ASKED),
    ("needs a person: it names no product", ReasonCode.NO_PRODUCT_NAMED),
    ("needs a person: it also names", ReasonCode.OTHER_PRODUCT_NAMED),
    ("needs a person: it asks about several", ReasonCode.SEVERAL_PRODUCTS),
    ("needs a person", ReasonCode.NOT_RECOGNISED),
    ("drafter asked for a human", ReasonCode.NEEDS_HUMAN),
    ("personal data", ReasonCode.PERSONAL_DATA),
    ("mentions @", ReasonCode.PERSONAL_DATA),
    ("longer than one message with the line", ReasonCode.DISCLOSURE_ROOM),
    ("longer than one", ReasonCode.TOO_LONG),
    ("asked for a link; the catalog has none", ReasonCode.LINK_NONE_IN_CATALOG),
    ("asked for a link", ReasonCode.LINK_MISSING),
    ("asked for the price; the catalog has none", ReasonCode.PRICE_NONE_IN_CATALOG),
    ("asked for the price", ReasonCode.PRICE_MISSING),
    ("asked for the code", ReasonCode.CODE_MISSING),
    ("the code of", ReasonCode.CODE_NOT_VALID_NOW),
    ("discount code", ReasonCode.CODE_NOT_IN_CATALOG),
    ("code ", ReasonCode.CODE_WRONG),
    ("link ", ReasonCode.LINK_WRONG),
    ("price ", ReasonCode.PRICE_WRONG),
    ("percentage ", ReasonCode.PERCENT_WRONG),
    ("date ", ReasonCode.DATE_WRONG),
    ("the reply is about", ReasonCode.OTHER_PRODUCT_ANSWERED),
    ("account is", ReasonCode.ACCOUNT_STATE),
    ("automation paused", ReasonCode.PAUSED),
    ("a human replied recently", ReasonCode.HUMAN_REPLIED),
    ("another app", ReasonCode.THREAD_HELD),
    ("the follower opted out", ReasonCode.OPTED_OUT),
    ("daily limit", ReasonCode.DAILY_LIMIT),
    ("confidence", ReasonCode.LOW_CONFIDENCE),
    ("the message is one the bot recognises", ReasonCode.RECOGNISED_SAFE),
    ("every code, link, price and date", ReasonCode.FACTS_CHECKED),
)
# fmt: on


def reason_of(stored: object) -> Reason:
    """The reason as made, or, for a sentence read back from the database, its code found
    from the sentence (the one place that reads prose)."""
    if isinstance(stored, Reason):
        return stored
    text = str(stored)
    for pattern, code in _PATTERNS:
        if found := pattern.match(text):
            return Reason(code, text, found.groupdict().get("detail"))
    for prefix, code in _PREFIXES:
        if text.startswith(prefix):
            return Reason(code, text)
    return Reason(ReasonCode.OTHER, text)
