"""Find the catalog products a follower's message is about.

Pure ranking (`rank_products`) plus a thin loader (`retrieve`): one query per message,
then fuzzy matching in memory, which is fast for the few hundred products one
influencer has and works across languages, because the words that matter (brand and
product names) are the same in every language.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from rapidfuzz import fuzz
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.text import tokens
from app.drafting.base import ProductMatch
from app.models import Cooperation, Product

# Below this a match is noise ("hi how are you" against a catalog scores ~0).
MIN_SCORE = 0.5
# A follow-up names no product: look back this many turns, and trust it this much less.
FOLLOW_UP_TURNS = 3
FOLLOW_UP_FACTOR = 0.9
# A brand mention alone says less than a product name: it fits every product of the brand.
BRAND_WEIGHT = 0.85
# Per-word similarity below this counts as no match (one typo in five letters is ~0.9).
WORD_CUTOFF = 0.8
# Words this short must match exactly ("c" in "Vitamin C" must not match "a").
EXACT_BELOW = 4
# Text windows of up to this many words are also compared glued together, so
# "glow lab" finds "GlowLab" and "glowlab" finds "Glow Lab".
MAX_WINDOW = 3
GENERIC_BRAND_WORDS = frozenset(
    tokens("beauty cosmetics cosmetic skincare outdoor fashion official store shop studio")
    + tokens("labs company group germany deutschland paris milano italia espana")
)


@dataclass(frozen=True, slots=True)
class _Text:
    words: tuple[str, ...]
    windows: tuple[str, ...]  # glued runs of 2..MAX_WINDOW words


def _prepare(text: str) -> _Text:
    words = tuple(tokens(text))
    windows = tuple(
        "".join(words[i : i + size])
        for size in range(2, MAX_WINDOW + 1)
        for i in range(len(words) - size + 1)
    )
    return _Text(words=words, windows=windows)


def _word_similarity(word: str, candidates: Sequence[str]) -> float:
    if len(word) < EXACT_BELOW or word.isdigit():
        return 1.0 if word in candidates else 0.0
    best = 0.0
    for candidate in candidates:
        if len(candidate) < EXACT_BELOW:
            continue
        score = fuzz.ratio(word, candidate, score_cutoff=WORD_CUTOFF * 100) / 100
        best = max(best, score)
    return best


def phrase_score(phrase: str, text: _Text) -> float:
    """How well `phrase` (a name, alias or brand) occurs in the text, 0..1.

    Each phrase word takes its best fuzzy match among the text's words; the result is
    the average weighted by word length, so "Vitamin C Serum" is carried by "vitamin"
    and "serum" more than by "c". The glued phrase is also compared with glued text
    windows, for names written with or without spaces.
    """
    words = tokens(phrase)
    if not words or not text.words:
        return 0.0
    total = sum(len(word) for word in words)
    by_word = sum(len(word) * _word_similarity(word, text.words) for word in words) / total
    glued = "".join(words)
    by_glued = _word_similarity(glued, text.words + text.windows) if len(glued) >= 5 else 0.0
    return max(by_word, by_glued)


def _brand_score(brand: str, text: _Text) -> float:
    # "Nordwind" alone should find "Nordwind Outdoor": a brand's distinctive word
    # counts almost as much as the whole brand, its generic words do not count alone.
    best = phrase_score(brand, text)
    for word in tokens(brand):
        if len(word) >= 5 and word not in GENERIC_BRAND_WORDS:
            best = max(best, 0.9 * _word_similarity(word, text.words))
    return best


def _names_code(product: Product, text: _Text) -> bool:
    """The follower typed the product's discount code ("is LENA15 still working?")."""
    if not product.discount_code:
        return False
    code = "".join(tokens(product.discount_code))
    return bool(code) and (code in text.words or code in text.windows)


def _score_product(product: Product, cooperation: Cooperation, text: _Text) -> tuple[float, str]:
    if _names_code(product, text):
        return 1.0, "code"
    best, matched_on = phrase_score(product.name, text), "name"
    for alias in product.aliases or ():
        score = phrase_score(str(alias), text)
        if score > best:
            best, matched_on = score, "alias"
    brand = _brand_score(cooperation.brand, text)
    if brand < MIN_SCORE:
        return best, matched_on
    # With the brand named, a partly named product ("crème de nuit" for "Night Repair
    # Cream") still decides between the brand's products.
    by_brand = BRAND_WEIGHT * brand + (1 - BRAND_WEIGHT) * best
    if by_brand > best:
        return by_brand, "brand"
    return min(1.0, best + 0.05), matched_on


def is_code_expired(product: Product, cooperation: Cooperation, today: date) -> bool:
    """The product's code may no longer be handed out: past its date or its cooperation's end."""
    ended = cooperation.ends_on is not None and cooperation.ends_on < today
    expired = product.code_valid_until is not None and product.code_valid_until < today
    return ended or expired


def rank_products(
    text: str,
    candidates: Sequence[tuple[Product, Cooperation]],
    limit: int = 3,
    *,
    today: date | None = None,
) -> list[ProductMatch]:
    """The products `text` is about, best first, at most `limit`, each scored 0..1.

    Matches below MIN_SCORE are dropped, so small talk returns an empty list. At equal
    scores a product whose code is still valid on `today` comes first.
    """
    prepared = _prepare(text)
    scored: list[tuple[float, bool, int, ProductMatch]] = []
    for product, cooperation in candidates:
        score, matched_on = _score_product(product, cooperation, prepared)
        if score < MIN_SCORE:
            continue
        match = ProductMatch(
            product=product, cooperation=cooperation, score=round(score, 4), matched_on=matched_on
        )
        current = today is None or not is_code_expired(product, cooperation, today)
        scored.append((match.score, current, -product.id, match))
    scored.sort(key=lambda item: item[:3], reverse=True)
    return [item[3] for item in scored[:limit]]


def rank_in_conversation(
    text: str,
    earlier: Sequence[str],
    candidates: Sequence[tuple[Product, Cooperation]],
    limit: int = 3,
    *,
    today: date | None = None,
) -> list[ProductMatch]:
    """Like `rank_products`; when the latest messages name no product ("and the link?"),
    the products of the last few earlier turns, a little less sure."""
    matches = rank_products(text, candidates, limit, today=today)
    if matches or not earlier:
        return matches
    recent = " ".join(earlier[-FOLLOW_UP_TURNS:])
    return [
        ProductMatch(
            product=m.product,
            cooperation=m.cooperation,
            score=round(m.score * FOLLOW_UP_FACTOR, 4),
            matched_on="conversation",
        )
        for m in rank_products(recent, candidates, limit, today=today)
    ]


async def retrieve(
    session: AsyncSession,
    *,
    account_id: int,
    text: str,
    limit: int = 3,
    today: date | None = None,
    earlier: Sequence[str] = (),
) -> list[ProductMatch]:
    """The account's active products that `text` is about, or failing that the earlier
    turns `earlier` (one query, then `rank_in_conversation`)."""
    statement = (
        select(Product, Cooperation)
        .join(Cooperation, Product.cooperation_id == Cooperation.id)
        .where(
            Product.account_id == account_id,
            Cooperation.account_id == account_id,
            Product.is_active.is_(True),
        )
        .order_by(Product.id)
    )
    rows = [(row[0], row[1]) for row in (await session.execute(statement)).all()]
    return rank_in_conversation(text, earlier, rows, limit, today=today)
