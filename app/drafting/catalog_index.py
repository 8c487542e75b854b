"""An account's catalog indexed for matching in memory, so that retrieval over 10,000
products costs a few milliseconds instead of a fuzzy comparison per product.

Every distinct word of the catalog's names, aliases and brands is compared with the
message's words in one vectorised call (rapidfuzz `cdist`); only products sharing a
matched word, a matched brand or their discount code are then scored, with exactly
the rules below. An index is immutable; `CatalogIndexes` keeps one per account and
rebuilds it when the account's catalog changed.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray
from rapidfuzz import fuzz, process
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.text import tokens
from app.drafting.product_words import expand
from app.models import Cooperation, Product, ProductEmbedding

# Below this a match is noise ("hi how are you" against a catalog scores ~0).
MIN_SCORE = 0.5
# A brand mention alone says less than a product name: it fits every product of the brand.
BRAND_WEIGHT = 0.85
# Per-word similarity below this counts as no match (one typo in five letters is ~0.9).
WORD_CUTOFF = 0.8
# Words this short must match exactly ("c" in "Vitamin C" must not match "a").
EXACT_BELOW = 4
# Text windows of up to this many words are also compared glued together, so
# "glow lab" finds "GlowLab" and "glowlab" finds "Glow Lab".
MAX_WINDOW = 3
# A reply to a story the cooperation was shown in: its products, unless words say more.
STORY_SCORE = 0.8
# Semantic matches (embeddings) count this much of a lexical match at most: meaning
# alone finds "the thing for dry lips", but a named product is surer.
SEMANTIC_WEIGHT = 0.85
# Cosine similarity mapped to 0..1 between these two (below: unrelated).
COSINE_FLOOR = 0.3
COSINE_CEILING = 0.75
GENERIC_BRAND_WORDS = frozenset(
    tokens("beauty cosmetics cosmetic skincare outdoor fashion official store shop studio")
    + tokens("labs company group germany deutschland paris milano italia espana")
)


@dataclass(frozen=True, slots=True)
class Entry:
    """What matching needs of one active product, detached from any database session."""

    product_id: int
    cooperation_id: int
    name: str
    aliases: tuple[str, ...]
    brand: str
    discount_code: str | None
    code_valid_until: date | None
    cooperation_ends_on: date | None
    media_ids: frozenset[str] = frozenset()

    @classmethod
    def of(cls, product: Product, cooperation: Cooperation) -> Entry:
        posts = cooperation.platform_posts or ()
        return cls(
            product_id=product.id,
            cooperation_id=cooperation.id,
            name=product.name,
            aliases=tuple(str(a) for a in product.aliases or ()),
            brand=cooperation.brand,
            discount_code=product.discount_code,
            code_valid_until=product.code_valid_until,
            cooperation_ends_on=cooperation.ends_on,
            media_ids=frozenset(str(p["media_id"]) for p in posts if p.get("media_id")),
        )

    def is_current(self, today: date) -> bool:
        ended = self.cooperation_ends_on is not None and self.cooperation_ends_on < today
        expired = self.code_valid_until is not None and self.code_valid_until < today
        return not (ended or expired)


class Scored(NamedTuple):
    entry: Entry
    score: float
    matched_on: str  # code | name | alias | brand | story | meaning


@dataclass(frozen=True, slots=True)
class _Phrase:
    words: tuple[str, ...]
    total: int  # sum of word lengths: long words weigh more
    glued: str
    short_weight: float  # the share of `total` in words that must match exactly


def _is_short(word: str) -> bool:
    return len(word) < EXACT_BELOW or word.isdigit()


def _phrase(text: str) -> _Phrase:
    words = tuple(tokens(text))
    total = sum(len(w) for w in words)
    short = sum(len(w) for w in words if _is_short(w))
    return _Phrase(words, total, "".join(words), short / total if total else 0.0)


@dataclass(frozen=True, slots=True)
class _Message:
    words: tuple[str, ...]
    word_set: frozenset[str]
    everything: frozenset[str]  # words and glued windows of 2..MAX_WINDOW words
    word_sim: NDArray[np.float32]  # per catalog word: best similarity to a message word
    glued_sim: NDArray[np.float32]  # per glued phrase: best similarity to a word or window


class CatalogIndex:
    def __init__(
        self,
        entries: Sequence[Entry],
        vectors: dict[int, NDArray[np.float32]] | None = None,
        *,
        version: object = None,
    ) -> None:
        self.entries = tuple(entries)
        self.version = version
        self._names = [
            [(_phrase(e.name), "name"), *((_phrase(a), "alias") for a in e.aliases)]
            for e in self.entries
        ]
        self._brands: dict[str, _Phrase] = {}
        self._brand_entries: dict[str, list[int]] = defaultdict(list)
        words: dict[str, int] = {}
        glued: dict[str, int] = {}
        word_posts: dict[int, set[int]] = defaultdict(set)
        glued_posts: dict[int, set[int]] = defaultdict(set)
        short_posts: dict[str, set[int]] = defaultdict(set)
        brand_word_posts: dict[int, set[str]] = defaultdict(set)
        brand_glued_posts: dict[int, set[str]] = defaultdict(set)
        brand_short_posts: dict[str, set[str]] = defaultdict(set)
        self._codes: dict[str, list[int]] = defaultdict(list)
        self._media: dict[str, list[int]] = defaultdict(list)

        def index_phrase(
            phrase: _Phrase,
            key: int | str,
            posts: tuple[dict[int, set[int]], dict[int, set[int]], dict[str, set[int]]]
            | tuple[dict[int, set[str]], dict[int, set[str]], dict[str, set[str]]],
        ) -> None:
            by_word, by_glued, by_short = posts
            for word in phrase.words:
                if not _is_short(word):
                    by_word[words.setdefault(word, len(words))].add(key)  # type: ignore[arg-type]
                elif phrase.short_weight >= MIN_SCORE:
                    # Only then can exact short words alone lift the phrase over MIN_SCORE.
                    by_short[word].add(key)  # type: ignore[arg-type]
            if len(phrase.glued) >= 5:
                if phrase.glued.isdigit():
                    by_short[phrase.glued].add(key)  # type: ignore[arg-type]
                else:
                    by_glued[glued.setdefault(phrase.glued, len(glued))].add(key)  # type: ignore[arg-type]

        for position, entry in enumerate(self.entries):
            for phrase, _kind in self._names[position]:
                index_phrase(phrase, position, (word_posts, glued_posts, short_posts))
            if entry.brand not in self._brands:
                brand = _phrase(entry.brand)
                self._brands[entry.brand] = brand
                index_phrase(
                    brand, entry.brand, (brand_word_posts, brand_glued_posts, brand_short_posts)
                )
            self._brand_entries[entry.brand].append(position)
            if entry.discount_code:
                code = "".join(tokens(entry.discount_code))
                if code:
                    self._codes[code].append(position)
            for media_id in entry.media_ids:
                self._media[media_id].append(position)
        self._word_list = list(words)
        self._word_ids = words
        self._glued_list = list(glued)
        self._glued_ids = glued
        self._word_posts = word_posts
        self._glued_posts = glued_posts
        self._short_posts = short_posts
        self._brand_word_posts = brand_word_posts
        self._brand_glued_posts = brand_glued_posts
        self._brand_short_posts = brand_short_posts
        self._vectors, self._vector_rows = self._matrix(vectors or {})

    def _matrix(
        self, vectors: dict[int, NDArray[np.float32]]
    ) -> tuple[NDArray[np.float32] | None, NDArray[np.int64]]:
        rows = [i for i, e in enumerate(self.entries) if e.product_id in vectors]
        if not rows:
            return None, np.zeros(0, dtype=np.int64)
        matrix = np.stack([vectors[self.entries[i].product_id] for i in rows]).astype(np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        matrix /= np.where(norms == 0, 1, norms)
        return matrix, np.array(rows, dtype=np.int64)

    @property
    def has_vectors(self) -> bool:
        return self._vectors is not None

    # -- matching -------------------------------------------------------------------

    def _read(self, text: str) -> _Message:
        words = tuple(expand(tokens(text)))
        windows = [
            "".join(words[i : i + size])
            for size in range(2, MAX_WINDOW + 1)
            for i in range(len(words) - size + 1)
        ]
        everything = frozenset(words) | frozenset(windows)
        return _Message(
            words=words,
            word_set=frozenset(words),
            everything=everything,
            word_sim=_best(sorted({w for w in words if len(w) >= EXACT_BELOW}), self._word_list),
            glued_sim=_best(
                sorted(w for w in everything if len(w) >= EXACT_BELOW), self._glued_list
            ),
        )

    def _word(self, word: str, message: _Message) -> float:
        if _is_short(word):
            return 1.0 if word in message.word_set else 0.0
        return float(message.word_sim[self._word_ids[word]])

    def _glued(self, phrase: _Phrase, message: _Message) -> float:
        if len(phrase.glued) < 5:
            return 0.0
        if phrase.glued.isdigit():
            return 1.0 if phrase.glued in message.everything else 0.0
        return float(message.glued_sim[self._glued_ids[phrase.glued]])

    def _phrase_score(self, phrase: _Phrase, message: _Message) -> float:
        """How well a name, alias or brand occurs in the message, 0..1: each word's best
        fuzzy match, averaged by word length (so "Vitamin C Serum" is carried by "vitamin"
        and "serum" more than by "c"), or the glued phrase against glued text windows."""
        if not phrase.words or not message.words:
            return 0.0
        by_word = sum(len(w) * self._word(w, message) for w in phrase.words) / phrase.total
        return max(by_word, self._glued(phrase, message))

    def _brand_score(self, brand: str, message: _Message) -> float:
        # "Nordwind" alone should find "Nordwind Outdoor": a brand's distinctive word
        # counts almost as much as the whole brand, its generic words do not count alone.
        phrase = self._brands[brand]
        best = self._phrase_score(phrase, message)
        for word in phrase.words:
            if len(word) >= 5 and word not in GENERIC_BRAND_WORDS:
                best = max(best, 0.9 * self._word(word, message))
        return best

    def _score(self, position: int, brand: float, message: _Message) -> tuple[float, str]:
        best, matched_on = 0.0, "name"
        for phrase, kind in self._names[position]:
            score = self._phrase_score(phrase, message)
            if score > best:
                best, matched_on = score, kind
        if brand < MIN_SCORE:
            return best, matched_on
        # With the brand named, a partly named product ("crème de nuit" for "Night Repair
        # Cream") still decides between the brand's products.
        by_brand = BRAND_WEIGHT * brand + (1 - BRAND_WEIGHT) * best
        if by_brand > best:
            return by_brand, "brand"
        return min(1.0, best + 0.05), matched_on

    def _lexical(self, message: _Message) -> dict[int, tuple[float, str]]:
        candidates: set[int] = set()
        brands: set[str] = set()
        for word_id in np.flatnonzero(message.word_sim).tolist():
            candidates |= self._word_posts.get(word_id, set())
            brands |= self._brand_word_posts.get(word_id, set())
        for glued_id in np.flatnonzero(message.glued_sim).tolist():
            candidates |= self._glued_posts.get(glued_id, set())
            brands |= self._brand_glued_posts.get(glued_id, set())
        for word in message.everything:
            candidates |= self._short_posts.get(word, set())
            brands |= self._brand_short_posts.get(word, set())
        brand_scores = {brand: self._brand_score(brand, message) for brand in brands}
        for brand, score in brand_scores.items():
            if score >= MIN_SCORE:
                candidates.update(self._brand_entries[brand])
        found: dict[int, tuple[float, str]] = {}
        for position in candidates:
            by_brand = brand_scores.get(self.entries[position].brand, 0.0)
            score, matched_on = self._score(position, by_brand, message)
            if score >= MIN_SCORE:
                found[position] = (score, matched_on)
        # The follower typed the product's discount code ("is LENA15 still working?").
        for code, positions in self._codes.items():
            if code in message.everything:
                found.update((p, (1.0, "code")) for p in positions)
        return found

    def _semantic(self, query: NDArray[np.float32]) -> dict[int, float]:
        if self._vectors is None or query.shape[0] != self._vectors.shape[1]:
            return {}
        norm = float(np.linalg.norm(query))
        if norm == 0:
            return {}
        cosine = self._vectors @ (query / norm)
        scaled = np.clip((cosine - COSINE_FLOOR) / (COSINE_CEILING - COSINE_FLOOR), 0, 1)
        hits = np.flatnonzero(SEMANTIC_WEIGHT * scaled >= MIN_SCORE)
        return {int(self._vector_rows[i]): float(SEMANTIC_WEIGHT * scaled[i]) for i in hits}

    def rank(
        self,
        text: str,
        limit: int = 3,
        *,
        today: date | None = None,
        query_vector: NDArray[np.float32] | None = None,
        story_id: str | None = None,
    ) -> list[Scored]:
        """The products `text` is about, best first, at most `limit`, each scored 0..1.

        Lexical matches and (with a query vector) semantic ones are fused by taking each
        product's best score; a reply to one of a cooperation's stories adds its
        products. Below MIN_SCORE nothing is returned, so small talk finds nothing. At
        equal scores a product whose code is still valid on `today` comes first.
        """
        found = self._lexical(self._read(text)) if text.strip() else {}
        if query_vector is not None:
            for position, score in self._semantic(query_vector).items():
                if score > found.get(position, (0.0, ""))[0]:
                    found[position] = (score, "meaning")
        if story_id:
            for position in self._media.get(story_id, ()):
                if STORY_SCORE > found.get(position, (0.0, ""))[0]:
                    found[position] = (STORY_SCORE, "story")
        ranked = sorted(
            (
                (
                    round(score, 4),
                    today is None or self.entries[position].is_current(today),
                    -self.entries[position].product_id,
                    position,
                    matched_on,
                )
                for position, (score, matched_on) in found.items()
            ),
            reverse=True,
        )
        return [
            Scored(self.entries[position], score, matched_on)
            for score, _current, _id, position, matched_on in ranked[:limit]
        ]


def _best(queries: Sequence[str], choices: Sequence[str]) -> NDArray[np.float32]:
    """For each choice, its best similarity (0..1) to any query; 0 below WORD_CUTOFF."""
    if not queries or not choices:
        return np.zeros(len(choices), dtype=np.float32)
    matrix = process.cdist(
        queries,
        choices,
        scorer=fuzz.ratio,
        score_cutoff=WORD_CUTOFF * 100,
        dtype=np.float32,
        workers=1,
    )
    return np.asarray(matrix.max(axis=0) / 100, dtype=np.float32)


# -- one index per account, rebuilt when the catalog changes ------------------------------


class CatalogIndexes:
    """The process's indexes, one per account (least recently used dropped beyond
    `capacity`). An index is valid while its catalog version holds: the count and the
    latest change of the account's products, cooperations and embeddings, read in one
    cheap query per use, so a change made by any process is seen at once."""

    def __init__(self, *, model: str | None = None, capacity: int = 256) -> None:
        self._model = model
        self._capacity = capacity
        self._indexes: OrderedDict[int, CatalogIndex] = OrderedDict()
        self._locks: dict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def get(self, session: AsyncSession, account_id: int) -> CatalogIndex:
        version = await _catalog_version(session, account_id)
        index = self._indexes.get(account_id)
        if index is not None and index.version == version:
            self._indexes.move_to_end(account_id)
            return index
        async with self._locks[account_id]:
            index = self._indexes.get(account_id)
            if index is None or index.version != version:
                index = await load_index(session, account_id, model=self._model, version=version)
                self._indexes[account_id] = index
                self._indexes.move_to_end(account_id)
                while len(self._indexes) > self._capacity:
                    dropped, _ = self._indexes.popitem(last=False)
                    self._locks.pop(dropped, None)
            return index


async def _catalog_version(session: AsyncSession, account_id: int) -> tuple[object, ...]:
    columns = []
    for table, key in (
        (Product, Product.id),
        (Cooperation, Cooperation.id),
        (ProductEmbedding, ProductEmbedding.product_id),
    ):
        mine = table.account_id == account_id
        columns.append(select(func.count(key)).where(mine).scalar_subquery())
        columns.append(select(func.max(table.updated_at)).where(mine).scalar_subquery())
    row = (await session.execute(select(*columns))).one()
    return tuple(_comparable(value) for value in row)


def _comparable(value: object) -> object:
    # SQLite hands max() of a timestamp column back as text; PostgreSQL as a datetime.
    return value.isoformat() if isinstance(value, datetime) else value


async def load_index(
    session: AsyncSession, account_id: int, *, model: str | None = None, version: object = None
) -> CatalogIndex:
    """The account's active products, with their vectors of `model` (None: no vectors)."""
    rows = await session.execute(
        select(Product, Cooperation)
        .join(Cooperation, Product.cooperation_id == Cooperation.id)
        .where(
            Product.account_id == account_id,
            Cooperation.account_id == account_id,
            Product.is_active.is_(True),
        )
        .order_by(Product.id)
    )
    entries = [Entry.of(product, cooperation) for product, cooperation in rows.all()]
    if model is None:
        return CatalogIndex(entries, version=version)
    stored = await session.execute(
        select(ProductEmbedding.product_id, ProductEmbedding.vector).where(
            ProductEmbedding.account_id == account_id, ProductEmbedding.model == model
        )
    )
    vectors = {product_id: np.frombuffer(vector, dtype="<f4") for product_id, vector in stored}
    return CatalogIndex(entries, vectors, version=version)


def build_index(candidates: Iterable[tuple[Product, Cooperation]]) -> CatalogIndex:
    return CatalogIndex([Entry.of(product, cooperation) for product, cooperation in candidates])
