"""Meta's limits: how long one message may be, and how close an account is to its rate limit.

`split_text(text, platform)` cuts a reply into messages the Send API accepts: Messenger
takes up to 2000 characters, Instagram up to 1000 UTF-8 bytes. It cuts on paragraph,
line, sentence and word boundaries in that order of preference, never inside a character
or a link, and refuses (`TextTooLong`) a reply that needs more than `MAX_PARTS` messages:
a wall of DMs is worse than a review.

`parse_usage(headers)` reads the usage headers Meta puts on every Graph answer
(`X-App-Usage`, `X-Page-Usage`, `X-Business-Use-Case-Usage`) into a `Usage`, so callers
can slow an account down before it hits 100 % and Meta blocks it.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

MAX_PARTS = 5
MESSENGER_MAX_CHARS = 2000
INSTAGRAM_MAX_BYTES = 1000
# One comment (a public reply under a comment): Instagram's limit for captions and comments;
# Facebook allows more, so the lower one holds for both.
COMMENT_MAX_CHARS = 2200


class TextTooLong(ValueError):
    """The text needs more than `MAX_PARTS` messages, or holds a link longer than one message."""


# --- text splitting --------------------------------------------------------------------


def _utf16_units(text: str) -> int:
    # Meta's "2000 characters" is unconfirmed; counting UTF-16 units (emoji = 2) is never
    # more than a JavaScript-side limit would allow, and at worst slightly conservative.
    return len(text.encode("utf-16-le")) // 2


def _utf8_bytes(text: str) -> int:
    return len(text.encode("utf-8"))


_BUDGETS: dict[str, tuple[Callable[[str], int], int]] = {
    "messenger": (_utf16_units, MESSENGER_MAX_CHARS),
    "instagram": (_utf8_bytes, INSTAGRAM_MAX_BYTES),
}

# Cut points by preference; group 1, when present, is where the cut goes. Each is only
# taken if it keeps at least half the room in use (`_MIN_FILL`), except the word break.
_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")
_LINE = re.compile(r"\n\s*")
_SENTENCE = re.compile(r"[.!?…。！？][\"'”’»)\]]*(\s+)")
_WORD = re.compile(r"\s+")
_PREFERRED = (_PARAGRAPH, _LINE, _SENTENCE)
_MIN_FILL = 0.5
_LINK = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)


def split_text(text: str, platform: str) -> list[str]:
    """Split `text` into at most `MAX_PARTS` messages that fit `platform`'s per-message limit.

    `platform` is "messenger" or "instagram". Each part is stripped of surrounding
    whitespace; the text inside a part is untouched. Raises `ValueError` for empty or
    whitespace-only text or an unknown platform, `TextTooLong` when the text needs more
    than `MAX_PARTS` messages or contains a link that alone exceeds one message.
    """
    budget = _BUDGETS.get(platform)
    if budget is None:
        raise ValueError(f"unknown platform: {platform!r}")
    measure, limit = budget
    rest = text.strip()
    if not rest:
        raise ValueError("cannot send an empty message")
    parts: list[str] = []
    while rest:
        if len(parts) == MAX_PARTS:
            raise TextTooLong(f"the text needs more than {MAX_PARTS} messages")
        part, rest = _take_part(rest, measure, limit)
        parts.append(part)
    return parts


def _take_part(text: str, measure: Callable[[str], int], limit: int) -> tuple[str, str]:
    """The first message of `text` (stripped, non-empty) and what remains after it."""
    room = _fitting_chars(text, measure, limit)
    if room == len(text):
        return text, ""
    window = text[: room + 1]  # a break right after the last fitting char still works
    cut: int | None = None
    for pattern in _PREFERRED:
        cut = _last_break(pattern, window, room, minimum=max(1, int(room * _MIN_FILL)))
        if cut is not None:
            break
    else:
        cut = _last_break(_WORD, window, room, minimum=1)
    if cut is None:
        cut = _hard_cut(text, room)
    return text[:cut].rstrip(), text[cut:].lstrip()


def _fitting_chars(text: str, measure: Callable[[str], int], limit: int) -> int:
    """How many leading characters of `text` fit in `limit` (`measure` takes any string)."""
    if measure(text) <= limit:
        return len(text)  # the usual reply: measured at once, not character by character
    used = 0
    for index, char in enumerate(text):
        used += measure(char)
        if used > limit:
            return index
    return len(text)


def _last_break(pattern: re.Pattern[str], window: str, room: int, *, minimum: int) -> int | None:
    """The last index where `pattern` allows a cut that fits and keeps `minimum` chars."""
    for match in reversed(list(pattern.finditer(window))):
        cut = match.start(1) if pattern.groups else match.start()
        if minimum <= cut <= room and window[:cut].strip():
            return cut
    return None


def _hard_cut(text: str, room: int) -> int:
    """A cut with no whitespace to use: keep links whole and marks with their letter."""
    cut = room
    for link in _LINK.finditer(text[: room + 1]):
        if link.start() < cut < link.end():
            if link.start() == 0:
                raise TextTooLong("the text contains a link longer than one message")
            cut = link.start()
    # Combining marks, joiners and variation selectors belong to the character before them.
    while cut > 1 and _joins_previous(text[cut]):
        cut -= 1
    return cut


def _joins_previous(char: str) -> bool:
    return (
        bool(unicodedata.combining(char))
        or char in "\u200d\ufe0e\ufe0f"
        or (
            0x1F3FB <= ord(char) <= 0x1F3FF  # skin-tone modifiers
        )
    )


# --- usage headers ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Usage:
    """Meta's usage headers of one Graph answer, as percentages of the limit (blocked at 100).

    `platform_percent`: the highest value of `X-App-Usage` / `X-Page-Usage`;
    `business_percent`: the highest value across `X-Business-Use-Case-Usage`;
    `regain_access_minutes`: when throttled, Meta's estimate of the wait.
    """

    platform_percent: float | None = None
    business_percent: float | None = None
    regain_access_minutes: float | None = None

    @property
    def max_percent(self) -> float | None:
        """The highest percentage reported, or None when Meta sent no usage header."""
        values = [v for v in (self.platform_percent, self.business_percent) if v is not None]
        return max(values) if values else None

    @property
    def retry_after_seconds(self) -> float | None:
        if self.regain_access_minutes is None or self.regain_access_minutes <= 0:
            return None
        return self.regain_access_minutes * 60

    def is_near_limit(self, threshold: float = 90.0) -> bool:
        """True when any counter is at `threshold` percent or more: time to slow down."""
        highest = self.max_percent
        return highest is not None and highest >= threshold


_COUNTERS = ("call_count", "total_cputime", "total_time", "acc_id_util_pct")


def parse_usage(headers: Mapping[str, str]) -> Usage:
    """Read the usage headers; missing or garbled headers count as "not reported"."""
    lowered = {key.lower(): value for key, value in headers.items()}
    platform = [_json(lowered.get("x-app-usage")), _json(lowered.get("x-page-usage"))]
    business: list[Any] = []
    buc = _json(lowered.get("x-business-use-case-usage"))
    if isinstance(buc, dict):
        for per_object in buc.values():
            business.extend(per_object if isinstance(per_object, list) else [per_object])
    regain = [_number(item.get("estimated_time_to_regain_access")) for item in _dicts(business)]
    return Usage(
        platform_percent=_highest(_counters(platform)),
        business_percent=_highest(_counters(business)),
        regain_access_minutes=_highest(regain),
    )


def _json(value: str | None) -> Any:
    if not value:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


def _dicts(values: list[Any]) -> list[dict[str, Any]]:
    return [value for value in values if isinstance(value, dict)]


def _counters(values: list[Any]) -> list[float | None]:
    return [_number(item.get(key)) for item in _dicts(values) for key in _COUNTERS]


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _highest(values: list[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return max(present) if present else None
