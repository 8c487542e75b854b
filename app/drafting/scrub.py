"""Removes another follower's personal data from a reply before it is shown to the model
as an example of the influencer's voice.

What goes: the follower's name and username (each part, as a whole word), @handles,
e-mail addresses, phone numbers, links that are not the catalog's, and order numbers.
Names and handles are dropped (a greeting "Hi Anna!" becomes "Hi!"); the rest is
replaced by a bracketed placeholder, which the prompt tells the model never to write.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

LINK = "[link]"
EMAIL = "[email]"
PHONE = "[phone]"
ORDER = "[order number]"

_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_HANDLE = re.compile(r"(?<![\w@./])@[A-Za-z0-9._]{1,29}[A-Za-z0-9_]")
_PHONE = re.compile(r"(?<![\w+])(?:\+|00|0)\d[\d ()./-]{6,}\d(?!\w)")
_DATE_SHAPED = re.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}")
# An order number: after "#", or after a word for order/number in the five languages, a
# token with at least three digits; or any run of six or more digits.
_ORDER = re.compile(
    r"(?P<lead>#\s?|\b(?:order|bestellung|bestellnummer|auftrag|pedido|commande|ordine|"
    r"numero|número|numéro|nummer|nr|no|n[°º])\.?\s*(?::\s*)?#?\s?)"
    r"(?=[A-Z0-9-]*\d{3})[A-Z0-9-]{3,}\b"
    r"|(?<![\w.,])\d{6,}(?![\w.,]\d)",
    re.IGNORECASE,
)
# Where a name or handle was dropped; only there is the text tidied, so that the
# influencer's own spacing ("Coucou toi !") is kept.
_GONE = "\x00"
_GONE_ENDING_CLAUSE = re.compile(r"[ \t]*,[ \t]*\x00[ \t]*(?=[.!?])")
_GONE_BEFORE_PUNCT = re.compile(r"[ \t]*\x00(?=[,.!?;:)])")
_GONE_AT_START = re.compile(r"^[ \t]*\x00[ \t]*[,;:]?[ \t]*", re.MULTILINE)
_GONE_ELSEWHERE = re.compile(r"[ \t]*\x00")


def name_parts(values: Iterable[str | None]) -> list[str]:
    """The words of a follower's name and username worth removing (two letters or more),
    longest first so "Anna-Lena" goes before "Anna"."""
    parts: set[str] = set()
    for value in values:
        if not value:
            continue
        cleaned = value.strip().lstrip("@")
        if len(cleaned) >= 2:
            parts.add(cleaned)
        parts.update(word for word in re.split(r"[\s_.]+", cleaned) if len(word) >= 2)
    # Removal ignores case: one spelling of each is enough.
    unique = {part.casefold(): part for part in sorted(parts)}
    return sorted(unique.values(), key=lambda part: (-len(part), part.casefold()))


def _links(text: str, allowed: Collection[str]) -> str:
    kept = {url.rstrip("/").casefold() for url in allowed}

    def replace(match: re.Match[str]) -> str:
        url = match.group().rstrip(_TRAILING)
        tail = match.group()[len(url) :]
        return (url if url.rstrip("/").casefold() in kept else LINK) + tail

    return _URL.sub(replace, text)


def _phones(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group())
        if _DATE_SHAPED.fullmatch(match.group().strip()) or len(digits) < 8:
            return match.group()
        return PHONE

    return _PHONE.sub(replace, text)


def _orders(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        lead = (match["lead"] or "").rstrip("# :")
        return f"{lead} {ORDER}" if lead else ORDER

    return _ORDER.sub(replace, text)


def _tidy(text: str) -> str:
    text = _GONE_AT_START.sub("", text)
    text = _GONE_ENDING_CLAUSE.sub("", text)
    text = _GONE_BEFORE_PUNCT.sub("", text)
    return _GONE_ELSEWHERE.sub("", text).strip()


def scrub(text: str, *, names: Iterable[str] = (), allowed_urls: Collection[str] = ()) -> str:
    """`text` without the personal data above; `names` are the other follower's name and
    username, `allowed_urls` the catalog links that may stay."""
    # Links and e-mails first: a handle or a number inside them is theirs; phone numbers
    # before order numbers, whose long digit runs they contain.
    text = _links(text, allowed_urls)
    text = _EMAIL.sub(EMAIL, text)
    text = _HANDLE.sub(_GONE, text)
    text = _phones(text)
    text = _orders(text)
    for part in name_parts(names):
        text = re.sub(rf"(?<!\w)@?{re.escape(part)}(?!\w)", _GONE, text, flags=re.IGNORECASE)
    return _tidy(text)
