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
import time
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray
from rapidfuzz import fuzz, process
from sqlalchemy import ScalarSelect, func, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import AsyncSession

from app.catalog.product_words import canonical, expand
from app.catalog.validity import CodeStatus, validity_of
from app.core.clock import utc_now
from app.core.text import tokens
from app.models import Cooperation, Product, ProductEmbedding
from app.outbox.compose import CatalogLink
from app.policy.lexicon import NOT_PRODUCT_WORDS

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
    cooperation_starts_on: date | None
    cooperation_ends_on: date | None
    media_ids: frozenset[str] = frozenset()

    @classmethod
    def of(cls, product: Product, cooperation: Cooperation) -> Entry:
        return cls(
            product_id=product.id,
            cooperation_id=cooperation.id,
            name=product.name,
            aliases=tuple(str(a) for a in product.aliases or ()),
            brand=cooperation.brand,
            discount_code=product.discount_code,
            code_valid_until=product.code_valid_until,
            cooperation_starts_on=cooperation.starts_on,
            cooperation_ends_on=cooperation.ends_on,
            media_ids=_media_ids(cooperation.platform_posts),
        )

    def is_current(self, today: date) -> bool:
        """Its code may be handed out today (or it has none to hand out)."""
        status = validity_of(
            self.discount_code,
            self.code_valid_until,
            starts_on=self.cooperation_starts_on,
            ends_on=self.cooperation_ends_on,
            today=today,
        ).status
        return status in (CodeStatus.VALID, CodeStatus.NO_CODE)


def _media_ids(posts: Sequence[dict[str, object]] | None) -> frozenset[str]:
    return frozenset(str(p["media_id"]) for p in posts or () if p.get("media_id"))


class Scored(NamedTuple):
    entry: Entry
    score: float
    matched_on: str  # code | name | alias | brand | story | meaning


def _is_short(word: str) -> bool:
    return len(word) < EXACT_BELOW or word.isdigit()


class _Phrases:
    """Names, aliases or brands as flat arrays, scored all at once against a message.

    A phrase's score is the best of (a) its words' best similarities to the message's
    words, averaged by word length (so "Vitamin C Serum" is carried by "vitamin" and
    "serum" more than by "c"), and (b) the phrase glued together ("glowlab") against
    the message's words and glued runs of words, for names written with or without
    spaces.
    """

    def __init__(self, texts: Sequence[str], vocabulary: _Vocabulary) -> None:
        word_ids: list[int] = []
        weights: list[float] = []
        offsets: list[int] = []
        glued: list[int] = []
        self.empty = np.zeros(len(texts), dtype=bool)
        for position, text in enumerate(texts):
            words = tokens(text)
            total = sum(len(w) for w in words)
            offsets.append(len(word_ids))
            if not words:
                self.empty[position] = True
                word_ids.append(vocabulary.word(""))
                weights.append(0.0)
                glued.append(-1)
                continue
            for word in words:
                word_ids.append(vocabulary.word(word))
                weights.append(len(word) / total)
            joined = "".join(words)
            glued.append(vocabulary.glued(joined) if len(joined) >= 5 else -1)
        self.word_ids = np.array(word_ids, dtype=np.int64)
        self.weights = np.array(weights, dtype=np.float32)
        self.offsets = np.array(offsets, dtype=np.int64)
        self.glued = np.array(glued, dtype=np.int64)

    def scores(
        self, word_sim: NDArray[np.float32], glued_sim: NDArray[np.float32]
    ) -> NDArray[np.float32]:
        if len(self.offsets) == 0:
            return np.zeros(0, dtype=np.float32)
        by_word = np.add.reduceat(self.weights * word_sim[self.word_ids], self.offsets)
        padded = np.append(glued_sim, np.float32(0))  # index -1: no glued form
        result = np.maximum(by_word, padded[self.glued]).astype(np.float32)
        result[self.empty] = 0
        return result


class _Vocabulary:
    """Every distinct word and glued phrase of the catalog, each with an id."""

    def __init__(self) -> None:
        self.words: dict[str, int] = {}
        self.glued_phrases: dict[str, int] = {}

    def word(self, word: str) -> int:
        return self.words.setdefault(word, len(self.words))

    def glued(self, phrase: str) -> int:
        return self.glued_phrases.setdefault(phrase, len(self.glued_phrases))


@dataclass(frozen=True, slots=True)
class _Message:
    words: tuple[str, ...]
    everything: frozenset[str]  # words and glued windows of 2..MAX_WINDOW words
    word_sim: NDArray[np.float32]  # per catalog word: best similarity to a message word
    glued_sim: NDArray[np.float32]  # per glued phrase: best similarity to a word or window


def _max_by_group(
    values: NDArray[np.float32], starts: NDArray[np.int64], sizes: NDArray[np.int64]
) -> NDArray[np.float32]:
    """Per group (`starts`, `sizes` into `values`), its maximum; 0 for empty groups."""
    result = np.zeros(len(starts), dtype=np.float32)
    present = sizes > 0
    if values.size and present.any():
        result[present] = np.maximum.reduceat(values, starts[present])
    return result


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
        # Set by `load_index`: the products' rows, and whether the draft job may take
        # them from here (the index holds every write up to its version: `SETTLE`).
        self.rows: dict[int, tuple[Product, Cooperation]] = {}
        self.links: tuple[CatalogLink, ...] = ()
        self.trusted = False
        self.settled_at: datetime | None = None
        vocabulary = _Vocabulary()
        self._names = _Phrases([e.name for e in self.entries], vocabulary)
        alias_texts = [alias for e in self.entries for alias in e.aliases]
        self._aliases = _Phrases(alias_texts, vocabulary)
        sizes = [len(e.aliases) for e in self.entries]
        self._alias_sizes = np.array(sizes, dtype=np.int64)
        self._alias_starts = np.cumsum([0, *sizes[:-1]], dtype=np.int64)
        brands = list(dict.fromkeys(e.brand for e in self.entries))
        brand_ids = {brand: i for i, brand in enumerate(brands)}
        self._brand_of = np.array([brand_ids[e.brand] for e in self.entries], dtype=np.int64)
        self._brands = _Phrases(brands, vocabulary)
        # "Nordwind" alone should find "Nordwind Outdoor": a brand's distinctive word
        # counts almost as much as the whole brand; its generic words do not count alone.
        distinctive = [
            [w for w in tokens(b) if len(w) >= 5 and w not in GENERIC_BRAND_WORDS] for b in brands
        ]
        self._distinctive_ids = np.array(
            [vocabulary.word(w) for words in distinctive for w in words], dtype=np.int64
        )
        counts = [len(words) for words in distinctive]
        self._distinctive_sizes = np.array(counts, dtype=np.int64)
        self._distinctive_starts = np.cumsum([0, *counts[:-1]], dtype=np.int64)
        self._codes: dict[str, list[int]] = defaultdict(list)
        self._media: dict[str, list[int]] = defaultdict(list)
        for position, entry in enumerate(self.entries):
            code = "".join(tokens(entry.discount_code or ""))
            if code:
                self._codes[code].append(position)
            for media_id in entry.media_ids:
                self._media[media_id].append(position)
        words = list(vocabulary.words)
        self._word_count = len(words)
        self._word_ids = vocabulary.words
        self._long = [(i, w) for i, w in enumerate(words) if w and not _is_short(w)]
        self._long_ids = np.array([i for i, _ in self._long], dtype=np.int64)
        self._long_words = [w for _, w in self._long]
        glued = list(vocabulary.glued_phrases)
        self._glued_count = len(glued)
        self._glued_ids = vocabulary.glued_phrases
        # Glued phrases are many (one per name and alias): compared only with text of the
        # same first letter. A typo in a glued phrase's first letter is still found word
        # by word.
        by_letter: dict[str, list[int]] = defaultdict(list)
        for glued_id, phrase in enumerate(glued):
            if not phrase.isdigit():
                by_letter[phrase[0]].append(glued_id)
        self._glued_by_letter = {
            letter: (np.array(ids, dtype=np.int64), [glued[i] for i in ids])
            for letter, ids in by_letter.items()
        }
        self._glued_digits = {phrase: i for i, phrase in enumerate(glued) if phrase.isdigit()}
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

    def settles_now(self) -> bool:
        """Loaded before its catalog settled, which it has since: worth loading again."""
        return not self.trusted and self.settled_at is not None and utc_now() >= self.settled_at

    @property
    def has_vectors(self) -> bool:
        return self._vectors is not None

    # -- matching -------------------------------------------------------------------

    def _read(self, text: str) -> _Message:
        # A generic type phrase ("sweat à capuche") also reads as its type ("hoodie"), as
        # the recogniser reads it: an alias that spells one out is not the only hoodie.
        said = tokens(text)
        words = tuple(expand(dict.fromkeys([*said, *canonical(said)])))
        windows = [
            "".join(words[i : i + size])
            for size in range(2, MAX_WINDOW + 1)
            for i in range(len(words) - size + 1)
        ]
        everything = frozenset(words) | frozenset(windows)
        word_sim = np.zeros(self._word_count, dtype=np.float32)
        long_text = sorted(
            {w for w in words if len(w) >= EXACT_BELOW and w not in NOT_PRODUCT_WORDS}
        )
        word_sim[self._long_ids] = _best(long_text, self._long_words)
        for word in words:  # short words, numbers and the lexicon's words match exactly
            if (_is_short(word) or word in NOT_PRODUCT_WORDS) and word in self._word_ids:
                word_sim[self._word_ids[word]] = 1.0
        glued_sim = np.zeros(self._glued_count, dtype=np.float32)
        by_letter: dict[str, list[str]] = defaultdict(list)
        for piece in everything:
            if len(piece) >= EXACT_BELOW and piece not in NOT_PRODUCT_WORDS:
                by_letter[piece[0]].append(piece)
            if piece in self._glued_digits:
                glued_sim[self._glued_digits[piece]] = 1.0
        for letter, queries in by_letter.items():
            if letter in self._glued_by_letter:
                ids, choices = self._glued_by_letter[letter]
                glued_sim[ids] = _best(sorted(queries), choices)
        return _Message(words, everything, word_sim, glued_sim)

    def _lexical(self, message: _Message) -> dict[int, tuple[float, str]]:
        if not message.words or not self.entries:
            return {}
        sim, glued = message.word_sim, message.glued_sim
        name = self._names.scores(sim, glued)
        alias = _max_by_group(
            self._aliases.scores(sim, glued), self._alias_starts, self._alias_sizes
        )
        best = np.maximum(name, alias)
        brand = self._brands.scores(sim, glued)
        if self._distinctive_ids.size:
            word_best = _max_by_group(
                sim[self._distinctive_ids], self._distinctive_starts, self._distinctive_sizes
            )
            brand = np.maximum(brand, 0.9 * word_best)
        brand = brand[self._brand_of]
        # With the brand named, a partly named product ("crème de nuit" for "Night Repair
        # Cream") still decides between the brand's products.
        named = brand >= MIN_SCORE
        by_brand = BRAND_WEIGHT * brand + (1 - BRAND_WEIGHT) * best
        brand_wins = named & (by_brand > best)
        score = np.where(brand_wins, by_brand, np.where(named, np.minimum(1.0, best + 0.05), best))
        found: dict[int, tuple[float, str]] = {}
        for position in np.flatnonzero(score >= MIN_SCORE).tolist():
            if brand_wins[position]:
                kind = "brand"
            else:
                kind = "alias" if alias[position] > name[position] else "name"
            found[position] = (float(score[position]), kind)
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
        # Whole percents: a quarter of the time of floats, and finer than any rule here.
        dtype=np.uint8,
        workers=1,
    )
    best: NDArray[np.float32] = matrix.max(axis=0).astype(np.float32) / np.float32(100)
    return best


# -- one index per account, rebuilt when the catalog changes ------------------------------

# A catalog's version (count and latest `updated_at` per table) can miss a write that
# committed after a newer one (its `updated_at` is older than the latest the version
# read). An index loaded this long after its catalog's latest change holds every write up
# to it (a catalog write commits within this time of its `updated_at`, and the clocks of
# the processes that write the catalog agree within seconds), so the draft job may take
# the products' rows from it; before that, they are read fresh.
SETTLE = timedelta(seconds=60)


class CatalogIndexes:
    """The process's indexes, one per account (least recently used dropped beyond
    `capacity`). An index is valid while its catalog version holds: the count and the
    latest change of the account's products, cooperations and embeddings. `get` reads the
    version at most every `recheck_seconds` per account, so a change made by any process
    is matched within that time, and what a match returns (code, link, price, active
    flag) is read fresh from the database. `current` takes the version its caller read
    (the draft job, with its context: every draft sees every change)."""

    def __init__(
        self, *, model: str | None = None, capacity: int = 256, recheck_seconds: float = 1.0
    ) -> None:
        self._model = model
        self._capacity = capacity
        self._recheck = recheck_seconds
        self._indexes: OrderedDict[int, tuple[CatalogIndex, float]] = OrderedDict()
        self._locks: dict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def get(self, session: AsyncSession, account_id: int) -> CatalogIndex:
        cached = self._indexes.get(account_id)
        if cached is not None and time.monotonic() - cached[1] < self._recheck:
            self._indexes.move_to_end(account_id)
            return cached[0]
        version = await _catalog_version(session, account_id)
        return await self.current(session, account_id, version)

    async def current(
        self, session: AsyncSession, account_id: int, version: tuple[object, ...]
    ) -> CatalogIndex:
        """The account's index at `version` (`catalog_version_columns`, read by the
        caller), loaded if need be; reloaded once when it settles (`SETTLE`)."""
        async with self._locks[account_id]:
            cached = self._indexes.get(account_id)
            index = None if cached is None else cached[0]
            if index is None or index.version != version or index.settles_now():
                index = await load_index(session, account_id, model=self._model, version=version)
            self._indexes[account_id] = (index, time.monotonic())
            self._indexes.move_to_end(account_id)
            while len(self._indexes) > self._capacity:
                dropped, _ = self._indexes.popitem(last=False)
                self._locks.pop(dropped, None)
            return index


def catalog_version_columns(account_id: Any) -> list[ScalarSelect[Any]]:
    """The version of an account's catalog as scalar subqueries (for one statement)."""
    columns: list[ScalarSelect[Any]] = []
    for table, key in (
        (Product, Product.id),
        (Cooperation, Cooperation.id),
        (ProductEmbedding, ProductEmbedding.product_id),
    ):
        mine = table.account_id == account_id
        columns.append(select(func.count(key)).where(mine).scalar_subquery())
        columns.append(select(func.max(table.updated_at)).where(mine).scalar_subquery())
    return columns


def catalog_version(values: Sequence[object]) -> tuple[object, ...]:
    return tuple(_comparable(value) for value in values)


async def _catalog_version(session: AsyncSession, account_id: int) -> tuple[object, ...]:
    row = (await session.execute(select(*catalog_version_columns(account_id)))).one()
    return catalog_version(row)


def _comparable(value: object) -> object:
    # SQLite hands max() of a timestamp column back as text; PostgreSQL as a datetime.
    return value.isoformat() if isinstance(value, datetime) else value


def _changed_at(version: object) -> datetime | None:
    """The latest change a version (`catalog_version`) records."""
    if not isinstance(version, tuple):
        return None
    latest = None
    for value in version:
        if isinstance(value, str):
            try:
                at = datetime.fromisoformat(value)
            except ValueError:
                continue
            at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
            latest = at if latest is None else max(latest, at)
    return latest


async def load_index(
    session: AsyncSession, account_id: int, *, model: str | None = None, version: object = None
) -> CatalogIndex:
    """The account's active products, with their vectors of `model` (None: no vectors),
    and what composing a reply needs of all its products. The index is built off the
    event loop."""
    loaded_at = utc_now()
    product_columns, coop_columns = _columns(Product, "p_"), _columns(Cooperation, "c_")
    rows = await session.execute(
        select(*product_columns.values(), *coop_columns.values())
        .join_from(Product, Cooperation, Product.cooperation_id == Cooperation.id)
        .where(Product.account_id == account_id, Cooperation.account_id == account_id)
        .order_by(Product.id)
    )
    # Shared by every draft of the account from now on: objects of no session (not the
    # caller's identity map's), so no session's end or change can touch them.
    cooperations: dict[int, Cooperation] = {}
    everything: list[tuple[Product, Cooperation]] = []
    for row in rows.mappings():
        coop_id = row["c_id"]
        if coop_id not in cooperations:
            cooperations[coop_id] = Cooperation(**{k: row[f"c_{k}"] for k in coop_columns})
        product = Product(**{k: row[f"p_{k}"] for k in product_columns})
        everything.append((product, cooperations[coop_id]))
    entries = [Entry.of(product, coop) for product, coop in everything if product.is_active]
    vectors: dict[int, NDArray[np.float32]] = {}
    if model is not None:
        stored = await session.execute(
            select(ProductEmbedding.product_id, ProductEmbedding.vector).where(
                ProductEmbedding.account_id == account_id, ProductEmbedding.model == model
            )
        )
        vectors = {product_id: np.frombuffer(blob, dtype="<f4") for product_id, blob in stored}
    index = await asyncio.to_thread(CatalogIndex, entries, vectors, version=version)
    changed_at = _changed_at(version)
    index.settled_at = None if changed_at is None else changed_at + SETTLE
    index.rows = {p.id: (p, c) for p, c in everything if p.is_active}
    index.links = tuple(CatalogLink(p.id, p.discount_code, p.url) for p, _ in everything)
    index.trusted = version is not None and (
        index.settled_at is None or loaded_at >= index.settled_at
    )
    return index


def _columns(entity: Any, prefix: str) -> dict[str, Any]:
    """{attribute: its column labelled `prefix` + attribute} of a mapped class."""
    return {
        attr.key: attr.columns[0].label(prefix + attr.key)
        for attr in sa_inspect(entity).column_attrs
    }


def build_index(candidates: Iterable[tuple[Product, Cooperation]]) -> CatalogIndex:
    return CatalogIndex([Entry.of(product, cooperation) for product, cooperation in candidates])
