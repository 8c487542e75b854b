"""Which cooperation a follower's story mention or shared post concerns.

A shared post names its media (`ig_post_media_id`, `reel_video_id`) or its link; it concerns
the cooperation that lists that media id or link among its platform posts. A story mention
names nothing we can match (its media link is an expiring CDN address), so it concerns the
cooperation with a story posted that day or the day before, if exactly one has one: with two
candidates, guessing would put a mention in the wrong brand's report.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit


class Pointer(StrEnum):
    STORY_MENTION = "story_mention"
    SHARE = "share"


SHARE_TYPES = frozenset({"ig_post", "share", "post", "ig_reel", "reel"})
_MEDIA_KEYS = ("ig_post_media_id", "reel_video_id", "media_id")
# Instagram serves one post under /p/, /reel/ and /tv/ alike.
_INSTAGRAM_KINDS = frozenset({"p", "reel", "reels", "tv"})


@dataclass(frozen=True, slots=True)
class CooperationPosts:
    """A cooperation as attribution needs it: its platform posts as stored."""

    id: int
    brand: str
    title: str
    platform_posts: Sequence[Any]


@dataclass(frozen=True, slots=True)
class Attribution:
    pointer: Pointer
    cooperation: CooperationPosts

    @property
    def about(self) -> str:
        """The words the queue shows: "GlowLab — Autumn skincare"."""
        c = self.cooperation
        return f"{c.brand} — {c.title}" if c.title else c.brand


def same_post_url(url: str) -> str | None:
    """A post's link without scheme, www., query or trailing slash, so the links a follower
    shares and the one the influencer typed into the catalog compare equal."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    host = (parts.hostname or "").lower().removeprefix("www.").removeprefix("m.")
    if not host:
        return None
    path = parts.path.strip("/")
    if host == "instagram.com":
        segments = path.split("/")
        kinds = [n for n, s in enumerate(segments[:-1]) if s in _INSTAGRAM_KINDS]
        if kinds:  # /p/X, /reel/X, /tv/X, /lena/p/X: the same post
            path = "p/" + segments[kinds[0] + 1]
    return f"{host}/{path}"


def _posts(cooperation: CooperationPosts) -> list[dict[str, Any]]:
    return [p for p in cooperation.platform_posts or () if isinstance(p, dict)]


def _shared(
    attachment: dict[str, Any], cooperations: Sequence[CooperationPosts]
) -> CooperationPosts | None:
    payload = attachment.get("payload")
    payload = payload if isinstance(payload, dict) else {}
    ids = {str(payload[k]) for k in _MEDIA_KEYS if payload.get(k) not in (None, "")}
    links = [attachment.get("url"), payload.get("url"), payload.get("link")]
    urls = {same_post_url(u) for u in links if isinstance(u, str) and u} - {None}
    for cooperation in cooperations:
        for post in _posts(cooperation):
            if post.get("media_id") and str(post["media_id"]) in ids:
                return cooperation
            if isinstance(post.get("url"), str) and same_post_url(post["url"]) in urls:
                return cooperation
    return None


def _story_on(day: date, cooperations: Sequence[CooperationPosts]) -> CooperationPosts | None:
    days = {day.isoformat(), (day - timedelta(days=1)).isoformat()}
    found = [
        c
        for c in cooperations
        if any(p.get("kind") == "story" and str(p.get("posted_on")) in days for p in _posts(c))
    ]
    return found[0] if len(found) == 1 else None


def attribute(
    attachments: Iterable[Any], *, day: date, cooperations: Sequence[CooperationPosts]
) -> Attribution | None:
    """The cooperation a follower's message concerns, from its attachments as stored
    (`message.payload["attachments"]`), the UTC day it came and the account's cooperations;
    None when it is no story mention or shared post, or when none (or, for a story
    mention, more than one) matches."""
    for attachment in attachments:
        if not isinstance(attachment, dict):
            continue
        kind = attachment.get("type")
        if kind == "story_mention":
            found = _story_on(day, cooperations)
            if found is not None:
                return Attribution(Pointer.STORY_MENTION, found)
        elif kind in SHARE_TYPES:
            found = _shared(attachment, cooperations)
            if found is not None:
                return Attribution(Pointer.SHARE, found)
    return None
