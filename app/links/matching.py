"""Where a reply gives a catalog product's link, and the reply with short links in their place.

Pure functions on plain values. Only a product's exact catalog URL counts, and only as a
whole link: "https://glowlab.example/serum" is found in "… at https://glowlab.example/serum."
but not in "https://glowlab.example/serum-xl" or "https://glowlab.example/serum.html".
URLs are tried longest first, so a URL that is the start of another never takes its place.
A catalog URL ending in "/" is also found without it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

# Punctuation that ends a sentence or closes a bracket after a link, not part of it.
_TRAILING = ".,;:!?)]}'\"»…”’"


@dataclass(frozen=True, slots=True)
class Found:
    start: int
    end: int
    product_id: int


def _ends_link(text: str, end: int) -> bool:
    """True when the link that stops at `end` is whole: what follows is the end of the
    text or whitespace, perhaps after closing punctuation."""
    rest = end
    while rest < len(text) and text[rest] in _TRAILING:
        rest += 1
    return rest == len(text) or text[rest].isspace()


def _spellings(url: str) -> list[str]:
    """The catalog URL, and without its final "/" when it has one: the catalog stores a
    bare domain as "https://glowlab.example/", a reply writes "https://glowlab.example"."""
    bare = url.rstrip("/")
    return [url, bare] if bare != url and "://" in bare and bare.split("://", 1)[1] else [url]


def find_links(
    text: str, urls: Sequence[tuple[int, str]], *, preferred: Collection[int] = ()
) -> list[Found]:
    """The whole-link occurrences of the products' `(id, url)` in `text`, in text order.
    Of products sharing one URL, a `preferred` one (the draft's) takes it, else the oldest."""
    taken: list[Found] = []
    spellings = [(pid, spelled) for pid, url in urls if url for spelled in _spellings(url)]
    order = sorted(spellings, key=lambda item: (-len(item[1]), item[0] not in preferred, item[0]))
    for product_id, url in order:
        if not url:
            continue
        start = text.find(url)
        while start != -1:
            end = start + len(url)
            overlaps = any(f.start < end and start < f.end for f in taken)
            if not overlaps and _ends_link(text, end):
                taken.append(Found(start, end, product_id))
            start = text.find(url, end)
    return sorted(taken, key=lambda f: f.start)


def replace_links(text: str, found: Sequence[Found], short: Mapping[int, str]) -> str:
    """`text` with each found link replaced by its product's short link (if it has one)."""
    parts: list[str] = []
    done = 0
    for item in found:
        if item.product_id not in short:
            continue
        parts += [text[done : item.start], short[item.product_id]]
        done = item.end
    parts.append(text[done:])
    return "".join(parts)
