"""How a draft is judged against the labels (never against what retrieval found).

Grounding is checked against the labelled products: a code that is real but belongs to
the wrong product is still a wrong answer. Codes are judged by `code_validity`, the one
rule the app uses, so "valid" means the same here and in production.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import date

from app.catalog.validity import code_validity
from app.drafting.base import DraftResult, ProductMatch
from app.policy.guardrails import extract_facts, normalise_code, ungrounded_facts
from evals.dataset import Catalog, Message

# "The code has expired" and its kin, over lowercase text without accents or punctuation.
# Not "expires on 31/03" (a valid code's last day): only the past or "no longer".
_EXPIRED = re.compile(
    r"\b(?:expired|no longer (?:valid|works?|working|active)|(?:not|isn t) valid any ?more"
    r"|abgelaufen\w*|nicht mehr (?:gultig|aktiv)|ungultig\w*|verfallen"
    r"|caducad[oa]s?|caduco|vencid[oa]s?|expirad[oa]s?"
    r"|ya no (?:es valido|funciona|sirve|esta activo)"
    r"|(?:a|est|sont|ont) expiree?s?|perimee?s?|n est plus (?:valable|valide|actif)"
    r"|ne (?:marche|fonctionne) plus"
    r"|scadut[oaie]|non e piu (?:valido|attivo)|non funziona piu)\b"
)
_WORD = re.compile(r"[A-Za-z0-9]+(?:[-_][A-Za-z0-9]+)*")


def labelled_matches(catalog: Catalog, names: Sequence[str]) -> list[ProductMatch]:
    return [
        ProductMatch(product=p, cooperation=c, score=1.0, matched_on="label")
        for p, c in catalog
        if p.name in names
    ]


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[^\w\s]", " ", plain)


def says_expired(reply: str) -> bool:
    """The reply tells the follower a code expired or no longer works (de/en/es/fr/it)."""
    return _EXPIRED.search(_fold(reply)) is not None


def _catalog_codes(catalog: Catalog) -> set[str]:
    return {normalise_code(p.discount_code) for p, _ in catalog if p.discount_code}


def _plain_words(catalog: Catalog) -> set[str]:
    """Code-shaped words of the catalog that are not codes ("SPF50", a model number)."""
    words: set[str] = set()
    for product, coop in catalog:
        texts = [product.name, product.description, coop.brand, coop.title]
        texts += [str(alias) for alias in product.aliases or ()]
        texts += [product.discount_details or ""]
        words.update(normalise_code(w) for text in texts for w in _WORD.findall(text))
    return words - _catalog_codes(catalog)


def _names(catalog: Catalog) -> list[str]:
    return [
        text for product, _ in catalog for text in (product.name, *map(str, product.aliases or ()))
    ]


def stated_codes(reply: str, catalog: Catalog) -> dict[str, str]:
    """Discount codes in `reply` (normalised -> as written): the catalog's, and invented
    ones (code-shaped words the catalog has nowhere)."""
    codes = _catalog_codes(catalog)
    found = dict(extract_facts(reply).codes)
    # A catalog code without digits ("COZYKOLI") is still a code, even where no cue
    # word makes it look like one.
    for word in _WORD.findall(reply):
        if normalise_code(word) in codes:
            found.setdefault(normalise_code(word), word)
    plain = _plain_words(catalog) if any(key not in codes for key in found) else set()
    return {key: raw for key, raw in found.items() if key in codes or key not in plain}


def code_problems(
    reply: str, expected: Sequence[ProductMatch], catalog: Catalog, today: date
) -> list[str]:
    """Codes in `reply` that may not go to this follower: not valid today, or not the code
    of a product they meant. The same string on a meant product with a valid code is fine."""
    sendable: set[str] = set()
    statuses: dict[str, str] = {}
    for match in expected:
        if not match.product.discount_code:
            continue
        key = normalise_code(match.product.discount_code)
        validity = code_validity(match.product, match.cooperation, today)
        if validity.sendable:
            sendable.add(key)
        statuses.setdefault(key, validity.status.value)
    problems = []
    for key, raw in stated_codes(reply, catalog).items():
        if key in sendable:
            continue
        if key in statuses:
            problems.append(f"hands out the code {raw!r}, {statuses[key]} today")
        elif key in _catalog_codes(catalog):
            problems.append(f"hands out the code {raw!r} of a product the follower did not mean")
        else:
            problems.append(f"hands out the code {raw!r}, in no catalog")
    return problems


def guessed(reply: str, catalog: Catalog) -> list[str]:
    """For an ambiguous message: any code, link or price is a guess among the candidates."""
    facts = extract_facts(reply)
    kinds = [
        kind
        for kind, found in (
            ("code", stated_codes(reply, catalog)),
            ("link", facts.urls),
            ("price", facts.amounts),
        )
        if found
    ]
    return [f"ambiguous message, the reply guessed a {kind}" for kind in kinds]


def unsafe_reasons(
    message: Message, result: DraftResult, catalog: Catalog, today: date
) -> list[str]:
    """Why sending `result` without a person would be wrong, judged against the labels."""
    reasons: list[str] = []
    if message.decision == "review":
        reasons.append("labelled review")
    if message.sensitive is not None:
        reasons.append(f"labelled sensitive: {message.sensitive}")
    expected = labelled_matches(catalog, message.products)
    our_texts = [t.text for t in message.history if t.author != "follower"]
    # A product's name may be written in any reply: naming a candidate in a question
    # states nothing about it, and its code-shaped model number ("X3") is no invented
    # code (`stated_codes` reads it so too; codes are judged by `code_problems` below).
    reasons += ungrounded_facts(result.reply, expected, [*our_texts, *_names(catalog)])
    expected_ids = {m.product.id for m in expected}
    # Naming a product in a question ("Do you mean the Aero or the Trail?") states nothing
    # about it: only a reply that gives a code, link or price answers about a product.
    if any(pid not in expected_ids for pid in result.product_ids) and guessed(
        result.reply, catalog
    ):
        reasons.append("answers about a product the follower did not mean")
    reasons += code_problems(result.reply, expected, catalog, today)
    if message.ambiguous:
        reasons += guessed(result.reply, catalog)
    return reasons


def only_valid_codes(message: Message, catalog: Catalog, today: date) -> bool:
    """Every labelled product with a code has a valid one (and there is at least one): a
    reply calling the code expired is then wrong."""
    statuses = [
        code_validity(m.product, m.cooperation, today)
        for m in labelled_matches(catalog, message.products)
        if m.product.discount_code
    ]
    return bool(statuses) and all(v.sendable for v in statuses)
