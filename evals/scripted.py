"""Scripted "model" answers derived from the labels: what an LLM might return.

`GoodDrafter` writes what a careful model would: the right facts for the labelled
product, a question naming the candidates when the message is ambiguous, a holding reply
asking for a person when a person must answer. `FlawedDrafter` writes the same, except
for a fixed share of messages that get a deliberately bad answer, the ways real models
fail (an invented code or link, a wrong product, an overconfident answer to a message a
person must handle), so the run shows whether the checks stop them.
Deterministic: the flaw of a message depends only on its id.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace
from datetime import date

from app.catalog.validity import CodeStatus, code_validity
from app.drafting.base import DraftRequest, DraftResult
from app.models import Cooperation, Product
from evals.dataset import Catalog, Message
from evals.phrases import amount, options, say

# Out of 100, per message id: how many sensitive / other messages get a bad answer.
SENSITIVE_FLAW_SHARE = 50
OTHER_FLAW_SHARE = 25
FLAWS = ("invented_code", "invented_url", "wrong_product")
INVENTED_CODE = "VIP50"
INVENTED_URL = "https://bit.ly/lena-deal"
GOOD_CONFIDENCE = 0.9
HOLDING_CONFIDENCE = 0.3
OVERCONFIDENT = 0.97

Row = tuple[Product, Cooperation]


@dataclass(frozen=True, slots=True)
class Answer:
    reply: str
    needs_human: bool = False


def correct_answer(message: Message, rows: list[Row], today: date) -> Answer:
    """The reply a careful model writes for `message` about the labelled `rows`."""
    language = message.language
    if message.decision == "review":
        return Answer(say(language, "holding"), needs_human=True)
    if message.ambiguous:
        # Guessing would hand out the wrong code, link or price: ask, and state none.
        names = [product.name for product, _ in rows]
        return Answer(say(language, "which", options=options(language, names)))
    if message.intent in ("greeting", "thanks"):
        return Answer(say(language, message.intent))
    if not rows:
        return Answer(say(language, "holding"), needs_human=True)
    if message.intent in ("product_link", "price"):
        # "the links to the granola and the peanut butter": one answer per product.
        answers = [product_answer(language, message.intent, row, today) for row in rows]
        reply = " ".join(dict.fromkeys(a.reply for a in answers))
        return Answer(reply, needs_human=any(a.needs_human for a in answers))
    # Several products without ambiguity share the asked code: the first one answers.
    return product_answer(language, message.intent, rows[0], today)


def product_answer(language: str, intent: str, row: Row, today: date) -> Answer:
    """The catalog's facts about one product for `intent`; needs a person for a fact the
    catalog lacks or a code whose validity nobody can vouch for."""
    product, coop = row
    parts: list[str] = []
    missing = False
    if intent in ("discount_code", "code_validity", "other"):
        code_part = _code_part(language, row, today, validity_question=intent == "code_validity")
        missing = code_part is None
        parts.append(code_part or say(language, "holding"))
    if intent == "price":
        if product.price is None:
            missing = True
        else:
            price = amount(product.price, product.currency)
            parts.append(say(language, "price", name=product.name, price=price))
    if intent in ("product_link", "discount_code", "price"):
        if product.url:
            parts.append(say(language, "link", url=product.url))
        elif intent == "product_link":
            missing = True
    if intent == "product_info":
        parts.append(product.description)
    if missing and not parts:
        parts.append(say(language, "holding"))
    return Answer(" ".join(parts), needs_human=missing)


def _code_part(language: str, row: Row, today: date, *, validity_question: bool) -> str | None:
    """What to say about the code, by the one validity rule; None when a person must
    confirm it (not started yet, or no date says whether it still works)."""
    product, coop = row
    validity = code_validity(product, coop, today)
    if validity.status is CodeStatus.EXPIRED:
        return say(language, "expired", brand=coop.brand)  # never the code itself
    if validity.status is CodeStatus.NO_CODE:
        return say(language, "no_code", name=product.name)
    if not validity.sendable or not product.discount_code:
        return None
    code = product.discount_code
    if validity_question:
        text = say(language, "still_valid", code=code, name=product.name)
        if validity.until is not None:
            text += " " + say(language, "until", until=validity.until.isoformat())
        return text
    details = product.discount_details or "discount"
    return say(language, "code", name=product.name, code=code, details=details)


def labelled_rows(message: Message, catalog: Catalog) -> list[Row]:
    """The labelled products in the label's order (the first is what the answer is about)."""
    by_name = {product.name: (product, coop) for product, coop in catalog}
    return [by_name[name] for name in message.products if name in by_name]


def offered_ids(rows: list[Row], request: DraftRequest) -> tuple[int, ...]:
    # As LLMDrafter does: ids the prompt did not offer are dropped.
    offered = {match.product.id for match in request.products}
    return tuple(product.id for product, _ in rows if product.id in offered)


class GoodDrafter:
    """A correct answer to one labelled message, with no deliberate flaw."""

    name = "good"

    def __init__(self, message: Message, catalog: Catalog) -> None:
        self.message = message
        self.catalog = catalog

    async def draft(self, request: DraftRequest) -> DraftResult:
        rows = labelled_rows(self.message, self.catalog)
        answer = correct_answer(self.message, rows, request.today)
        return DraftResult(
            reply=answer.reply,
            intent=self.message.intent,
            language=self.message.language,
            confidence=HOLDING_CONFIDENCE if answer.needs_human else GOOD_CONFIDENCE,
            product_ids=offered_ids(rows, request),
            needs_human=answer.needs_human,
            drafter=self.name,
        )


def flaw_of(message: Message, catalog: Catalog) -> str | None:
    """The deliberate flaw of this message's flawed answer, or None for a good answer."""
    bucket = zlib.crc32(message.id.encode()) % 100
    if message.sensitive is not None or message.decision == "review":
        return "overconfident" if bucket < SENSITIVE_FLAW_SHARE else None
    if bucket >= OTHER_FLAW_SHARE:
        return None
    kinds = [k for k in FLAWS if k != "wrong_product" or _other_brand(message, catalog)]
    return kinds[bucket % len(kinds)]


class FlawedDrafter:
    """The good answer, or for a fixed share of messages a deliberately bad one."""

    name = "flawed"

    def __init__(self, message: Message, catalog: Catalog) -> None:
        self.message = message
        self.catalog = catalog

    async def draft(self, request: DraftRequest) -> DraftResult:
        flaw = flaw_of(self.message, self.catalog)
        good = await GoodDrafter(self.message, self.catalog).draft(request)
        if flaw is None:
            return replace(good, drafter=self.name)
        rows = labelled_rows(self.message, self.catalog)
        if flaw == "wrong_product":
            rows = _other_brand(self.message, self.catalog)[:1]
        # An overconfident model answers a person's message as if it were a plain one.
        message = replace(self.message, decision="auto", ambiguous=False)
        reply = correct_answer(message, rows, request.today).reply
        if flaw == "invented_code":
            reply += f" Extra code for you: {INVENTED_CODE} for 50% off!"
        elif flaw == "invented_url":
            reply += f" Shop here: {INVENTED_URL}"
        intent = good.intent
        if flaw == "overconfident" and intent == "other":
            intent = "product_info"  # an overconfident model also claims a sendable intent
        return replace(
            good,
            reply=reply,
            intent=intent,
            confidence=OVERCONFIDENT,
            product_ids=offered_ids(rows, request),
            needs_human=False,
            drafter=self.name,
            notes=(f"scripted flaw: {flaw}",),
        )


def _other_brand(message: Message, catalog: Catalog) -> list[Row]:
    """Products of another brand than the expected ones: a confusion a model can make."""
    brands = {coop.brand for product, coop in catalog if product.name in message.products}
    if not brands:
        return []
    return [(p, c) for p, c in catalog if c.brand not in brands and p.discount_code and p.url]
