"""Scripted "model" answers: what an LLM might return, derived from the labels.

Most answers are what a careful model would write. A fixed share is deliberately bad, the
ways real models fail (an invented code or link, a wrong product, an overconfident answer
to a message a human must handle), so the run shows whether the guardrails stop them.
Deterministic: the flaw of a message depends only on its id.
"""

from __future__ import annotations

import zlib

from app.drafting.base import DraftRequest, DraftResult
from app.catalog.validity import CodeStatus, code_validity
from app.models import Cooperation, Product
from evals.dataset import Catalog, Message

# Out of 100, per message id: how many sensitive / other messages get a bad answer.
SENSITIVE_FLAW_SHARE = 50
OTHER_FLAW_SHARE = 25
FLAWS = ("invented_code", "invented_url", "wrong_product")
INVENTED_CODE = "VIP50"
INVENTED_URL = "https://bit.ly/lena-deal"
GOOD_CONFIDENCE = 0.9
OVERCONFIDENT = 0.97
HOLDING_REPLY = "Thanks for your message! I'll get back to you personally soon."


def flaw_of(message: Message, catalog: Catalog) -> str | None:
    """The deliberate flaw of this message's scripted answer, or None for a good answer."""
    bucket = zlib.crc32(message.id.encode()) % 100
    if message.sensitive is not None or message.decision == "review":
        return "overconfident" if bucket < SENSITIVE_FLAW_SHARE else None
    if bucket >= OTHER_FLAW_SHARE:
        return None
    kinds = [k for k in FLAWS if k != "wrong_product" or _other_brand(message, catalog)]
    return kinds[bucket % len(kinds)]


class ScriptedDrafter:
    """A drafter answering one labelled message, as a model would (or would wrongly)."""

    name = "scripted"

    def __init__(self, message: Message, catalog: Catalog) -> None:
        self.message = message
        self.catalog = catalog

    async def draft(self, request: DraftRequest) -> DraftResult:
        flaw = flaw_of(self.message, self.catalog)
        rows = [row for row in self.catalog if row[0].name in self.message.products]
        if flaw == "wrong_product":
            rows = _other_brand(self.message, self.catalog)[:1]
        review = self.message.decision == "review" and flaw != "overconfident"
        if review:
            reply, confidence = HOLDING_REPLY, 0.3
        else:
            reply = _answer(rows, self.message.intent, request)
            confidence = OVERCONFIDENT if flaw else GOOD_CONFIDENCE
        if flaw == "invented_code":
            reply += f" Extra code for you: {INVENTED_CODE} for 50% off!"
        elif flaw == "invented_url":
            reply += f" Shop here: {INVENTED_URL}"
        # As LLMDrafter does: ids the prompt did not offer are dropped.
        offered = {match.product.id for match in request.products}
        intent = self.message.intent
        if flaw == "overconfident" and intent == "other":
            intent = "product_info"  # an overconfident model also claims a sendable intent
        return DraftResult(
            reply=reply,
            intent=intent,
            language=self.message.language,
            confidence=confidence,
            product_ids=tuple(p.id for p, _ in rows if p.id in offered),
            needs_human=review,
            drafter=self.name,
            notes=(f"scripted flaw: {flaw}",) if flaw else (),
        )


def _answer(rows: list[tuple[Product, Cooperation]], intent: str, request: DraftRequest) -> str:
    if not rows:
        return "Thank you so much! 💛" if intent == "thanks" else "Hi! How can I help you? 😊"
    product, coop = rows[0]
    parts = [f"{product.name} by {coop.brand}:"]
    expired = code_validity(product, coop, request.today).status is CodeStatus.EXPIRED
    if intent in ("discount_code", "code_validity", "other"):
        if expired:
            parts.append("sorry, that code has expired.")
        elif product.discount_code:
            parts.append(
                f"code {product.discount_code} ({product.discount_details or 'discount'})."
            )
        else:
            parts.append("there is no discount code for it.")
    if intent == "price" and product.price is not None:
        parts.append(f"it costs {product.price} {product.currency or ''}".strip() + ".")
    if intent in ("product_link", "discount_code", "price") and product.url:
        parts.append(product.url)
    if intent == "product_info":
        parts.append(product.description)
    return " ".join(parts)


def _other_brand(message: Message, catalog: Catalog) -> list[tuple[Product, Cooperation]]:
    """Products of another brand than the expected ones: a confusion a model can make."""
    brands = {coop.brand for product, coop in catalog if product.name in message.products}
    if not brands:
        return []
    return [(p, c) for p, c in catalog if c.brand not in brands and p.discount_code and p.url]
