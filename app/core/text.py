"""Text folding for matching: case, accents and plural forms must not matter.

Deliberately light: follower messages are short and product names are mostly brand
words, so a real stemmer per language would cost more than it finds. The folding is
applied to both sides (catalog and message), so it only has to be consistent, not
linguistically right.
"""

from __future__ import annotations

import re
import unicodedata

# Letters and digits survive; everything else (punctuation, emoji, symbols) is a space.
_NON_WORD = re.compile(r"[^0-9a-z]+")
# Plural endings to fold, tried in order; (suffix, replacement, minimum word length).
_PLURAL_RULES: tuple[tuple[str, str, int], ...] = (
    ("sses", "ss", 5),  # en: glasses -> glass
    ("ies", "y", 5),  # en: berries -> berry
    ("xes", "x", 5),  # en: boxes -> box
    ("ches", "ch", 6),  # en: brushes, matches
    ("shes", "sh", 6),
    ("eaux", "eau", 5),  # fr: pinceaux -> pinceau
    ("en", "e", 5),  # de: jacken -> jacke, cremen -> creme
)
# A final "s" is a plural in en/es/fr (serums, cremas, crèmes) unless it is part of
# the stem (glass, citrus, iris).
_KEEP_FINAL_S = ("ss", "us", "is")


def normalise(text: str) -> str:
    """Casefold, strip accents (NFKD), turn punctuation into single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_WORD.sub(" ", stripped).strip()


def fold(word: str) -> str:
    """Fold one normalised word to a singular-ish form; stable when applied twice."""
    while True:
        folded = _fold_once(word)
        if folded == word:
            return word
        word = folded


def _fold_once(word: str) -> str:
    if len(word) <= 3 or not word.isalpha():
        return word
    for suffix, replacement, min_length in _PLURAL_RULES:
        if len(word) >= min_length and word.endswith(suffix):
            return word[: -len(suffix)] + replacement
    if word.endswith("s") and not word.endswith(_KEEP_FINAL_S):
        return word[:-1]
    return word


def tokens(text: str) -> list[str]:
    """The folded words of `text`, in order."""
    return [fold(word) for word in normalise(text).split()]
