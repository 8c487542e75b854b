"""Which language a follower writes in, among the few the account answers in."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping

from py3langid.langid import MODEL_FILE, LanguageIdentifier  # type: ignore[import-untyped]

from app.core.text import normalise

SUPPORTED_LANGUAGES = ("de", "en", "es", "fr", "it")
# Under this many letters (after removing links, mentions and codes) the n-gram model
# guesses; "code?" or "ok" say nothing about a language.
MIN_LETTERS = 12
# The best allowed language must be this likely among the allowed ones.
MIN_PROBABILITY = 0.6
# Words that name their language on their own, for messages too short for the model.
_MARKER_WORDS: dict[str, frozenset[str]] = {
    "de": frozenset({"danke", "hallo", "servus", "moin", "bitte", "rabatt", "rabattcode"}),
    "en": frozenset({"thanks", "thank", "thx", "hello", "please", "discount"}),
    "es": frozenset({"gracias", "hola", "descuento", "codigo", "cuanto", "donde"}),
    "fr": frozenset({"merci", "bonjour", "salut", "coucou", "combien"}),
    "it": frozenset({"grazie", "ciao", "buongiorno", "sconto", "codice", "quanto", "dove"}),
}
_STRETCHED = re.compile(r"(\w)\1{1,}(?=\W|$)")
_STRETCHED_INSIDE = re.compile(r"(\w)\1{2,}")  # "graciaaas": no word has a letter thrice
_NOISE = re.compile(r"https?://\S+|www\.\S+|@\w+|#\w+|\b\w*\d\w*\b")


def load_model() -> None:
    """Loads the n-gram model (about 0.6 s of CPU): a worker does it in a thread before it
    takes its first item, so the first draft does not stall its event loop (and the
    webhooks served beside it)."""
    _identifier()


def model_loaded() -> bool:
    return _identifier.cache_info().currsize > 0


@functools.cache
def _identifier() -> LanguageIdentifier:
    # Loading the model takes ~0.6 s and some memory: once per process.
    # The full model is kept and filtered per call, so callers with different allowed
    # sets share it (set_languages would mutate shared state).
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(
    text: str,
    *,
    allowed: Iterable[str] = SUPPORTED_LANGUAGES,
    default: str = "en",
    markers: Mapping[str, frozenset[str]] | None = None,
    ignore: Iterable[str] = (),
) -> str:
    """The ISO 639-1 code of `text`'s language among `allowed`, or `default` when unsure.

    `markers`: words that belong to one language only, for text too short for the n-gram
    model; `ignore`: words that say nothing about the language (product names)."""
    allowed_set = frozenset(allowed) or frozenset(SUPPORTED_LANGUAGES)
    skip = set(ignore)
    cleaned = " ".join(w for w in _NOISE.sub(" ", text).split() if normalise(w) not in skip)
    if sum(ch.isalpha() for ch in cleaned) < MIN_LETTERS:
        return _by_marker_words(cleaned, allowed_set, markers) or default
    # Rank among the allowed languages and the supported ones, so that French sent to a
    # German/English account falls back to `default` instead of being called German.
    considered = allowed_set | frozenset(SUPPORTED_LANGUAGES)
    ranked = [(lang, p) for lang, p in _identifier().rank(cleaned) if lang in considered]
    total = sum(p for _, p in ranked)
    if not ranked or total <= 0:
        return default
    best, probability = ranked[0]
    if probability / total < MIN_PROBABILITY:
        return _by_marker_words(cleaned, allowed_set, markers) or default
    return str(best) if best in allowed_set else default


def _by_marker_words(
    text: str, allowed: frozenset[str], extra: Mapping[str, frozenset[str]] | None
) -> str | None:
    """The allowed language with the most of its own words in `text`, if one leads."""
    # "holaaa", "ciaoo": followers stretch the words that say the most.
    words = [
        _STRETCHED.sub(r"\1", _STRETCHED_INSIDE.sub(r"\1", w)) for w in normalise(text).split()
    ]
    counts = {
        lang: sum(w in markers or w in (extra or {}).get(lang, ()) for w in words)
        for lang, markers in _MARKER_WORDS.items()
        if lang in allowed
    }
    ranked = sorted(counts.items(), key=lambda item: -item[1])
    if not ranked or ranked[0][1] == 0 or (len(ranked) > 1 and ranked[1][1] == ranked[0][1]):
        return None
    return ranked[0][0]
