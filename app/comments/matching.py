"""Does a comment contain a trigger's keyword?

A keyword matches as a whole word, or a keyword phrase as whole consecutive words, of the
comment, without regard to case, accents, punctuation or emoji ("SERUM!!", "serum😍",
"Sérum", "#serum" all match "serum"; "serumbox" does not). Both sides are read with the
catalog's folding (`app.core.text.tokens`), so the five languages' accents fold (é→e,
ñ→n, ß→ss) and a plural matches its singular: "serums" matches "serum", as the catalog
search reads it, because a follower who writes the plural asks for the same thing.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence

from app.core.text import fold, normalise, tokens

# Emoji and other symbols: kept beside the words left over, for the recogniser to judge.
_SYMBOL_CATEGORIES = ("So", "Cs", "Co")


def keyword_tokens(keyword: str) -> tuple[str, ...]:
    """The folded words of a keyword; empty when it has no letter or digit."""
    return tuple(tokens(keyword))


def _spans(words: Sequence[str], keywords: Iterable[str]) -> list[tuple[int, int]]:
    """Where each keyword occurs in `words`, as (start, end) positions."""
    spans: list[tuple[int, int]] = []
    for keyword in keywords:
        wanted = keyword_tokens(keyword)
        if not wanted:
            continue
        size = len(wanted)
        spans += [
            (start, start + size)
            for start in range(len(words) - size + 1)
            if tuple(words[start : start + size]) == wanted
        ]
    return spans


def matches(text: str, keywords: Iterable[str]) -> bool:
    """True when one of `keywords` is a whole word or phrase of `text`."""
    return bool(_spans(tokens(text), keywords))


def remainder(text: str, keywords: Iterable[str]) -> str:
    """What `text` says besides the keywords: its other words, then its emoji and symbols
    (so the recogniser still judges an angry face beside the keyword)."""
    words = normalise(text).split()
    folded = [fold(word) for word in words]
    used = {i for start, end in _spans(folded, keywords) for i in range(start, end)}
    kept = [word for i, word in enumerate(words) if i not in used]
    symbols = "".join(ch for ch in text if unicodedata.category(ch) in _SYMBOL_CATEGORIES)
    return " ".join([*kept, symbols]).strip()
