"""The desk's view of the queue: search, filters and sorts done by the database (so a
500-draft queue stays a few queries), and near-identical questions with the same answer
grouped so they are decided once.

A group is only a way of showing drafts: each draft in it is still decided by itself
through the moderation service (window rules, audit log, one send each).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from rapidfuzz import fuzz
from sqlalchemy import String, and_, case, cast, exists, not_, or_
from sqlalchemy.sql.elements import ColumnElement

from app.core.text import normalise
from app.models import Contact, Conversation, Draft, Message


class Family(StrEnum):
    """What kind of attention a waiting draft needs (the desk's "reason" filter)."""

    SENSITIVE = "sensitive"
    NO_PRODUCT = "no_product"
    LOW_CONFIDENCE = "low_confidence"
    OTHER = "other"


# How each family shows in the stored reasons (app/policy writes them), in order: a draft
# belongs to the first family it matches. The headline's words live in app/ui/words.py.
FAMILY_MARKERS: dict[Family, tuple[str, ...]] = {
    Family.SENSITIVE: ("sensitive message:",),
    Family.NO_PRODUCT: ("names no product", "the catalog has none"),
    Family.LOW_CONFIDENCE: ("confidence ", "drafter asked for a human"),
}


def family_of(reasons: Sequence[Any]) -> Family:
    texts = [str(r) for r in reasons]
    for candidate, markers in FAMILY_MARKERS.items():
        if any(marker in text for text in texts for marker in markers):
            return candidate
    return Family.OTHER


class Sort(StrEnum):
    OLDEST = "oldest"
    SENSITIVE = "sensitive"
    WINDOW = "window"  # the 24-hour messaging window closing first


@dataclass(frozen=True, slots=True)
class QueueQuery:
    """What the moderator asked the queue for (query parameters of /queue)."""

    account_id: int | None = None
    search: str | None = None
    family: Family | None = None
    language: str | None = None
    product_id: int | None = None
    sort: Sort = Sort.OLDEST

    @property
    def narrowed(self) -> bool:
        return any((self.search, self.family, self.language, self.product_id))


def _reasons_text() -> ColumnElement[str]:
    # The JSON list as text: '["a", "b"]' on both databases; markers are plain ASCII.
    return cast(Draft.reasons, String)


def _has_marker(family: Family) -> ColumnElement[bool]:
    text = _reasons_text()
    return or_(*(text.contains(marker, autoescape=True) for marker in FAMILY_MARKERS[family]))


def family_condition(family: Family) -> ColumnElement[bool]:
    """Drafts whose first matching family is `family` (the order of FAMILY_MARKERS)."""
    earlier: list[ColumnElement[bool]] = []
    for candidate in FAMILY_MARKERS:
        if candidate == family:
            return and_(_has_marker(candidate), *(not_(c) for c in earlier))
        earlier.append(_has_marker(candidate))
    return and_(*(not_(c) for c in earlier))


def _product_condition(product_id: int) -> ColumnElement[bool]:
    # product_ids is a JSON list of integers, rendered '[1, 12]' by both databases.
    text = cast(Draft.product_ids, String)
    n = str(product_id)
    return or_(
        text == f"[{n}]",
        text.startswith(f"[{n},"),
        text.contains(f" {n},"),
        text.endswith(f" {n}]"),
    )


def _search_condition(search: str) -> ColumnElement[bool]:
    said = exists().where(
        Message.conversation_id == Draft.conversation_id,
        Message.direction == "in",
        Message.text.icontains(search, autoescape=True),
    )
    return or_(
        Contact.name.icontains(search, autoescape=True),
        Contact.username.icontains(search, autoescape=True),
        Draft.text.icontains(search, autoescape=True),
        said,
    )


def apply(statement: Any, query: QueueQuery) -> Any:
    """The filters and sort of `query` on a select of pending drafts."""
    statement = statement.join(Conversation, Conversation.id == Draft.conversation_id).join(
        Contact, Contact.id == Conversation.contact_id
    )
    if query.search:
        statement = statement.where(_search_condition(query.search))
    if query.family is not None:
        statement = statement.where(family_condition(query.family))
    if query.language:
        statement = statement.where(Draft.language == query.language)
    if query.product_id is not None:
        statement = statement.where(_product_condition(query.product_id))
    return statement


def order(statement: Any, sort: Sort) -> Any:
    oldest = (Draft.created_at, Draft.id)
    if sort == Sort.SENSITIVE:
        first = case((_has_marker(Family.SENSITIVE), 0), else_=1)
        return statement.order_by(first, *oldest)
    if sort == Sort.WINDOW:
        # The earliest last message closes first; no message at all: nothing to wait for.
        return statement.order_by(Conversation.last_inbound_at.asc().nulls_first(), *oldest)
    return statement.order_by(*oldest)


# Grouping

SIMILAR = 88  # rapidfuzz ratio (0..100) of two normalised follower messages
GREETINGS = frozenset(
    "hi hey hello hallo hola ciao salut coucou bonjour buongiorno servus moin yo dear "
    "hii heyy ola oi buenas".split()
)


def _strip_greeting(words: list[str]) -> list[str]:
    while words and words[0] in GREETINGS:
        words = words[1:]
    return words


def message_key(text: str | None) -> str:
    """A follower's message compared without case, accents, punctuation, emoji or a
    greeting in front."""
    return " ".join(_strip_greeting(normalise(text or "").split()))


def reply_key(text: str, contact: Contact) -> str:
    """A draft compared without the follower's name or username and without the greeting
    that opens it ("Hi Mia! Yes: LENA15..." and "Hey Tom, yes: LENA15..." are the same)."""
    # Initials ("Mia K.") and numbers ("mia_10") are left in: removing "k" or "10" from
    # the reply would split a group.
    said = normalise(" ".join(filter(None, (contact.name, contact.username))))
    names = {word for word in said.split() if len(word) > 1 and word.isalpha()}
    words = [w for w in normalise(text).split() if w not in names]
    return " ".join(_strip_greeting(words))


@dataclass(slots=True)
class _Bucket:
    key: str
    members: list[int] = field(default_factory=list)


def group_indexes(
    items: Sequence[tuple[int, str, str, str]], *, similar: int = SIMILAR
) -> list[list[int]]:
    """Indexes of `items` (index, same-answer key, message key, language+account key)
    grouped: same answer, same account and language, near-identical message. Groups keep
    the order of their first member; a draft alone is a group of one."""
    buckets: dict[tuple[str, str], list[_Bucket]] = {}
    groups: dict[int, list[int]] = {}
    for index, answer, message, scope in items:
        candidates = buckets.setdefault((scope, answer), [])
        for bucket in candidates:
            if message and fuzz.ratio(bucket.key, message) >= similar:
                bucket.members.append(index)
                break
        else:
            bucket = _Bucket(message, [index])
            candidates.append(bucket)
            groups[index] = bucket.members
    return [groups[first] for first in sorted(groups)]
