"""The second judge: does our own code recognise the follower's message as one that may be
answered without a person?

A message is recognised only when every part of it is accounted for: a request for a
code, its validity, a link or a price (`lexicon.REQUESTS`), greetings and thanks, words
that carry no request and no risk (`lexicon.FILLER`), the words of the products it names,
warm emoji. Whatever is left over (a body part, a child, an order, a refund, another
person, a second question, a word we simply do not know) sends the message to a person,
whatever the model says. The recogniser lists what is safe; it never needs to know what
is dangerous, so a phrasing nobody foresaw fails safe.

It also decides what the message is about: the product it names, or several products
sharing the fact asked for (a brand's one code). When one reference fits several
products that differ in that fact ("the headphones" of a brand with two), the message
is ambiguous and the answer is a question naming them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache, lru_cache
from typing import Protocol

from rapidfuzz import fuzz

from app.catalog.product_words import broader, canonical, translations
from app.catalog.validity import code_validity
from app.core.language import detect_language
from app.core.text import fold, normalise, tokens
from app.models import Cooperation, Product
from app.policy.lexicon import (
    COLOURS,
    FILLER,
    PLACE_PREPOSITIONS,
    POSITIVE_EMOJI,
    REQUESTS,
    RISKY_IN,
    SIGHTING_DETERMINERS,
    SIGHTING_SLOT,
    SIGHTING_STOPS,
    SIGHTINGS,
    SMALL_TALK,
    THANKS_FOR,
    Ask,
)
from app.policy.reasons import Reason, ReasonCode

# A product counts as named when its retrieval score reaches this.
NAMED_SCORE = 0.6
# Products scoring within this margin of the best are all what the follower may mean.
MARGIN = 0.1
# A message longer than this is read by a person: it tells a story, not a question.
MAX_WORDS = 30
# Fuzzy matching of an unknown word to a product's or a request's word (misspellings).
FUZZY_MIN_LENGTH = 5
FUZZY_SCORE = 84
FUZZY_FILLER_LENGTH = 7
# A message of filler words only: nothing unknown, yet nothing to answer alone either.
_NO_PRODUCT = Reason(ReasonCode.NO_PRODUCT_NAMED, "it names no product of the catalog")
_SEVERAL = Reason(ReasonCode.SEVERAL_PRODUCTS, "it asks about several different products")
NOTHING_ASKED = Reason(ReasonCode.NOTHING_ASKED, "it asks nothing the bot answers alone")
_LAUGHTER = re.compile(r"^(?:a?(?:ha)+h?|(?:ja)+|(?:je)+|(?:hi)+|x+d+|mdr|ptdr|lol+)$")
_CODE_WORD = re.compile(rf"\b(?:{'|'.join(REQUESTS[Ask.CODE])})\b")
_IGNORED_MARKS = {"\ufe0f", "\u200d", "\u20e3"}


class Match(Protocol):
    """A retrieved product (drafting's ProductMatch is one)."""

    @property
    def product(self) -> Product: ...

    @property
    def cooperation(self) -> Cooperation: ...

    @property
    def score(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Recognition:
    asks: frozenset[Ask] = frozenset()
    subject: tuple[int, ...] = ()  # the product ids it asks about (sharing the fact asked)
    candidates: tuple[int, ...] = ()  # several products it may mean: ask which one
    unknown: tuple[str, ...] = ()  # words not recognised
    problem: Reason | None = None  # why a person must answer, for a moderator
    small_talk: frozenset[Ask] = field(default_factory=frozenset)
    named: bool = False  # the follower's own words name the subject, not only its brand

    @property
    def recognised(self) -> bool:
        return self.problem is None

    @property
    def ambiguous(self) -> bool:
        return len(self.candidates) > 1

    @property
    def intents(self) -> frozenset[str]:
        """The rules' intents of what it asks (small talk only when nothing else)."""
        return frozenset(ask.value for ask in (self.asks or self.small_talk))

    @property
    def intent(self) -> str:
        """The one intent a template or the rules name it by."""
        order = (Ask.VALIDITY, Ask.CODE, Ask.PRICE, Ask.LINK, Ask.THANKS, Ask.GREETING)
        found = self.asks or self.small_talk
        return next((ask.value for ask in order if ask in found), "other")


def recognise(
    text: str,
    matches: Sequence[Match],
    *,
    earlier: Sequence[str] = (),
    account_name: str = "",
    today: date,
) -> Recognition:
    """What `text` asks, if our code recognises all of it; else the problem."""
    words, emoji = _words_and_emoji(text)
    if len(words) > MAX_WORDS:
        text = f"a long message ({len(words)} words): a person reads it"
        return Recognition(problem=Reason(ReasonCode.LONG_MESSAGE, text))
    masked, thanked = _consume(" ".join(words), {Ask.THANKS: THANKS_FOR})
    masked, asks = _consume(masked, REQUESTS)
    masked, small_talk = _consume(masked, SMALL_TALK)
    small_talk |= thanked
    if Ask.VALIDITY in asks and not _about_a_code(text, earlier, matches):
        asks.discard(Ask.VALIDITY)
        masked, _ = _consume(" ".join(words), {Ask.THANKS: THANKS_FOR})
        masked, _ = _consume(masked, {k: v for k, v in REQUESTS.items() if k in asks})
        masked, _ = _consume(masked, SMALL_TALK)
    vocab = {m.product.id: _vocabulary(m) for m in matches}
    known = frozenset(tokens(account_name))
    left = masked.split()
    sighted = _sightings(left)
    unknown = [w for i, w in enumerate(left) if i not in sighted and not _known(w, vocab, known)]
    unknown += emoji
    unknown += _risky(text, masked.split())
    if unknown:
        shown = ", ".join(f"'{w}'" for w in dict.fromkeys(unknown))
        problem = Reason(ReasonCode.UNKNOWN_WORDS, f"words the bot does not know: {shown}")
        return Recognition(unknown=tuple(unknown), problem=problem)
    if not asks and not small_talk:
        # "The B one" after "Do you mean A or B?": the request is the one before.
        asks = _asks_before(earlier)
    if not asks:
        if small_talk:
            return Recognition(small_talk=frozenset(small_talk))
        return Recognition(problem=NOTHING_ASKED)
    # Words that name products (not filler): the subject must explain every one of them.
    words_read = canonical([fold(w) for w in masked.split()])
    naming = [w for w in words_read if _names_product(w, vocab, known)]
    if not naming and earlier:
        # A follow-up ("and the price?") names its product in the turn before.
        return _about(frozenset(asks), frozenset(small_talk), normalise(earlier[-1]).split(),
                      matches, vocab, today, explain=False)  # fmt: skip
    return _about(frozenset(asks), frozenset(small_talk), naming, matches, vocab, today)


def _sightings(words: Sequence[str]) -> set[int]:
    """Positions of the words that only say where the follower saw a product: a few words
    before a post or trip word ("the lapland aurora video") and the place phrases after
    one ("the reel from Lisbon", "del video de Japon")."""
    marked: set[int] = set()
    for i, word in enumerate(words):
        if word not in SIGHTINGS:
            continue
        marked |= _slot(words, i - 1, -1)
        j = i + 1
        while j < len(words) and words[j] in PLACE_PREPOSITIONS:
            slot = _slot(words, j + 1, 1)
            if not slot:
                break
            marked |= slot
            j = max(slot) + 1
    return marked


def _slot(words: Sequence[str], start: int, step: int) -> set[int]:
    """Up to `SIGHTING_SLOT` words from `start` going `step`, up to an article, a place
    preposition or the follower's own "my" (after a preposition, its article is skipped)."""
    k = start
    while step > 0 and k < len(words) and words[k] in SIGHTING_DETERMINERS:
        k += step
    found: set[int] = set()
    while 0 <= k < len(words) and len(found) < SIGHTING_SLOT:
        word = words[k]
        if word in SIGHTING_STOPS or word in PLACE_PREPOSITIONS or word in SIGHTING_DETERMINERS:
            break
        found.add(k)
        k += step
    return found


def _names_product(word: str, vocab: dict[int, frozenset[str]], account: frozenset[str]) -> bool:
    plain = word in FILLER or _is_colour(word) or fold(word) in account or fold(word) in FILLER
    return not plain and any(_in(word, v) for v in vocab.values())


def _asks_before(earlier: Sequence[str]) -> set[Ask]:
    """What the last two turns asked for, when the message only names a product."""
    for turn in reversed(earlier[-2:]):
        masked, _ = _consume(" ".join(normalise(turn).split()), {Ask.THANKS: THANKS_FOR})
        _, asks = _consume(masked, REQUESTS)
        if asks:
            return asks - {Ask.VALIDITY}
    return set()


def only_small_talk(text: str) -> bool:
    """A greeting or a thanks and nothing else ("merci vielmal, hat funktioniert!"): it
    refers to no product, even after a conversation about one."""
    masked, thanked = _consume(" ".join(normalise(text).split()), {Ask.THANKS: THANKS_FOR})
    masked, asks = _consume(masked, REQUESTS)
    masked, small_talk = _consume(masked, SMALL_TALK)
    if asks or not (small_talk or thanked):
        return False
    return all(_known(word, {}, frozenset()) for word in masked.split())


def _risky(text: str, words: list[str]) -> list[str]:
    """Filler words that are a risk in the language the message is written in."""
    risky = [w for w in words if w in RISKY_IN]
    if not risky:
        return []
    language = detect_language(text, default="")
    return [w for w in risky if language in RISKY_IN[w]]


def _words_and_emoji(text: str) -> tuple[list[str], list[str]]:
    """The normalised words, and the emoji that are not plain warmth."""
    other = [
        ch
        for ch in text
        if unicodedata.category(ch) in ("So", "Cs", "Co")  # skin tones (Sk) are ignored
        and ch not in _IGNORED_MARKS
        and ch not in _POSITIVE_CHARS
    ]
    return normalise(text).split(), other


_POSITIVE_CHARS = frozenset(ch for ch in POSITIVE_EMOJI if ch not in _IGNORED_MARKS)
_FILLER_BY_LETTER: dict[str, tuple[str, ...]] = {}
for _word in sorted(FILLER):
    if len(_word) >= FUZZY_FILLER_LENGTH - 1:
        _FILLER_BY_LETTER.setdefault(_word[0], ())
        _FILLER_BY_LETTER[_word[0]] += (_word,)


@cache
def _compiled(fragment: str) -> re.Pattern[str]:
    return re.compile(rf"\b(?:{fragment})\b")


@cache
def _any_of(fragments: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(rf"\b(?:{'|'.join(f'(?:{fragment})' for fragment in fragments)})\b")


def _consume(text: str, phrases: dict[Ask, tuple[str, ...]]) -> tuple[str, set[Ask]]:
    """`text` with every phrase blanked out, and which kinds of phrase were there."""
    found: set[Ask] = set()
    for ask, fragments in phrases.items():
        # One pass says whether any of the kind's phrases is there (most are not): only
        # a phrase that matched changes the text, so nothing is missed by skipping.
        if not fragments or not _any_of(fragments).search(text):
            continue
        for fragment in fragments:
            text, count = _compiled(fragment).subn(" ", text)
            if count:
                found.add(ask)
    return " ".join(text.split()), found


def _about_a_code(text: str, earlier: Sequence[str], matches: Sequence[Match]) -> bool:
    """ "Does it still work?" is about a code only when a code was mentioned."""
    said = " ".join([text, *earlier[-3:]])
    codes = {normalise(m.product.discount_code or "") for m in matches} - {""}
    folded = normalise(said)
    return bool(_CODE_WORD.search(folded)) or any(code in folded.split() for code in codes)


def _vocabulary(match: Match) -> frozenset[str]:
    """Words that name this product: its name, aliases, brand, code, the cooperation's
    title, and the proper names in its description ("worn in the Lisbon reel")."""
    product, cooperation = match.product, match.cooperation
    parts = (product.name, cooperation.brand, product.discount_code or "", cooperation.title)
    aliases = tuple(str(alias) for alias in product.aliases or ())
    return _words_naming(parts + aliases, product.description or "")


@lru_cache(maxsize=4096)
def _words_naming(parts: tuple[str, ...], description: str) -> frozenset[str]:
    """`_vocabulary` of a product's texts: the same texts, the same words (each draft
    reads a product several times, and its texts rarely change)."""
    words = {w for part in parts for w in [*tokens(part), *canonical(tokens(part))]}
    words |= broader(words)
    names = _PROPER_NAME.findall(description)
    return frozenset(words | translations(words) | set(tokens(" ".join(names))))


# A capitalised word that does not start a sentence: a place, an event, a collection.
_PROPER_NAME = re.compile(r"(?<=[\w,;:)] )[A-ZÄÖÜÉÈÀ][\w'’-]{2,}")


def _known(word: str, vocab: dict[int, frozenset[str]], account: frozenset[str]) -> bool:
    return any(_known_as_is(w, vocab, account) for w in _spellings(word))


def _is_colour(word: str) -> bool:
    """A colour, also with the endings German, Spanish and Italian adjectives take."""
    return word in COLOURS or any(
        word.endswith(end) and word[: -len(end)] in COLOURS for end in ("e", "en", "er", "es", "s")
    )


def _spellings(word: str) -> list[str]:
    """The word, and without the letters a follower stretches ("pleaseee", "holaaa")."""
    shorter = _STRETCHED.sub(r"\1", word)
    return list(dict.fromkeys([word, shorter, _REPEATED.sub(r"\1", word)]))


_STRETCHED = re.compile(r"(.)\1{2,}")
_REPEATED = re.compile(r"(.)\1+")


def _known_as_is(word: str, vocab: dict[int, frozenset[str]], account: frozenset[str]) -> bool:
    if word in FILLER or _is_colour(word) or _LAUGHTER.match(word):
        return True
    folded = fold(word)
    if folded in account or folded in FILLER or any(folded in v for v in vocab.values()):
        return True
    if _near(folded, (w for v in vocab.values() for w in v)):
        return True
    # A misspelt filler word ("definately"): longer words only, as short ones collide.
    return len(word) >= FUZZY_FILLER_LENGTH and _near(word, _FILLER_BY_LETTER.get(word[0], ()))


def _near(word: str, choices: Iterable[str]) -> bool:
    """A misspelt product word ("sereum"): long words only, same first letter, and never
    a word with a digit (SONORA10 is not SONORA20)."""
    if len(word) < FUZZY_MIN_LENGTH or any(ch.isdigit() for ch in word):
        return False
    return any(
        len(choice) >= FUZZY_MIN_LENGTH
        and choice[0] == word[0]
        and fuzz.ratio(word, choice) >= FUZZY_SCORE
        for choice in choices
    )


def _about(
    asks: frozenset[Ask],
    small_talk: frozenset[Ask],
    naming: Sequence[str],
    matches: Sequence[Match],
    vocab: dict[int, frozenset[str]],
    today: date,
    *,
    explain: bool = True,
) -> Recognition:
    """The products the request is about: one, several sharing the fact, or a question.
    With `explain`, every product word of the message must be one of theirs: "the coffee
    from your reel" is not about the oat bars that happened to rank first."""
    ranked = sorted(matches, key=lambda m: m.score, reverse=True)
    if not ranked or ranked[0].score < NAMED_SCORE:
        return Recognition(asks=asks, problem=_NO_PRODUCT)
    named = {m.product.id: _named_words(naming, vocab[m.product.id]) for m in ranked}
    if any(named.values()):
        # What the follower's words name, whatever retrieval scored: the products named
        # most specifically ("pulse buds pro" is the Buds Pro, not every Pulse product),
        # and every product those same words name ("sunglasses" of a brand with two).
        near = _most_specific([m for m in ranked if named[m.product.id]], named)
        # Among those, the product whose own name (not an alias, brand or translation)
        # carries the words: "the matcha" is the Ceremonial Matcha, not Matcha Mori's whisk.
        in_name = {m.product.id: _named_words(naming, _name_words(m)) for m in near}
        near = _most_specific(near, in_name)
    else:
        # Named by a story, a follow-up or meaning: trust retrieval's order.
        near = [m for m in ranked if m.score >= ranked[0].score - MARGIN]
    ids = tuple(m.product.id for m in near)
    stray = [w for w in naming if not any(_in(w, vocab[pid]) for pid in ids)]
    if explain and stray:
        shown = ", ".join(f"'{w}'" for w in dict.fromkeys(stray))
        text = f"it also names {shown}, another product"
        return Recognition(asks=asks, problem=Reason(ReasonCode.OTHER_PRODUCT_NAMED, text))
    if len({_facts(m, asks, today) for m in near}) == 1:
        # Named beyond its brand ("Sol y Mar code?" may mean any product of the brand).
        by_name = any(named[m.product.id] - _brand_words(m) for m in near)
        return Recognition(asks=asks, subject=ids, small_talk=small_talk, named=by_name)
    if len({named[pid] for pid in ids}) > 1:
        return Recognition(asks=asks, problem=_SEVERAL)
    return Recognition(asks=asks, candidates=ids, small_talk=small_talk)


def _most_specific(matches: Sequence[Match], named: dict[int, frozenset[str]]) -> list[Match]:
    """Those whose named words are not a strict subset of another's."""
    sets = [named[m.product.id] for m in matches]
    return [m for m in matches if not any(named[m.product.id] < other for other in sets)]


def _brand_words(match: Match) -> frozenset[str]:
    return frozenset(tokens(match.cooperation.brand))


def _name_words(match: Match) -> frozenset[str]:
    return frozenset(tokens(f"{match.product.name} {match.product.discount_code or ''}"))


def _named_words(words: Sequence[str], vocab: frozenset[str]) -> frozenset[str]:
    return frozenset(w for w in words if _in(w, vocab))


def _in(word: str, vocab: frozenset[str]) -> bool:
    folded = fold(word)
    return folded in vocab or _near(folded, vocab)


def _facts(match: Match, asks: frozenset[Ask], today: date) -> tuple[object, ...]:
    """What the answer would state for this product: products that agree are one answer."""
    product = match.product
    facts: list[object] = []
    if asks & {Ask.CODE, Ask.VALIDITY}:
        validity = code_validity(product, match.cooperation, today)
        facts += [product.discount_code, validity.status, validity.until]
    if Ask.LINK in asks:
        facts.append(product.url)
    if Ask.PRICE in asks:
        facts += [product.price, product.currency]
    return tuple(facts)
