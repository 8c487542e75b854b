"""Which cooperation a story mention or a shared post concerns (app/reports/attribution.py),
on the attachments as the webhook stores them."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from app.reports.attribution import CooperationPosts, Pointer, attribute, same_post_url

GLOW = CooperationPosts(
    1,
    "GlowLab",
    "Autumn skincare",
    [
        {"url": "https://www.instagram.com/p/GLOW1/", "kind": "post"},
        {"media_id": "178900001", "kind": "reel"},
        {"url": "https://instagram.com/stories/lena/1", "kind": "story", "posted_on": "2026-11-10"},
    ],
)
SUN = CooperationPosts(
    2,
    "SunCo",
    "",
    [
        {"url": "https://sun.example/campaign?utm_source=x", "kind": "other"},
        {"url": "https://instagram.com/stories/lena/9", "kind": "story", "posted_on": "2026-11-12"},
        "not a post",
    ],
)
BOTH = [GLOW, SUN]
DAY = date(2026, 11, 10)


def _share(kind: str = "ig_post", **payload: Any) -> dict[str, Any]:
    url = payload.pop("url", None)
    return {"type": kind, "url": url, "title": "caption", "payload": payload}


@pytest.mark.parametrize(
    ("attachment", "brand"),
    [
        (_share(ig_post_media_id="178900001"), "GlowLab"),
        (_share("ig_reel", reel_video_id="178900001"), "GlowLab"),
        (_share(url="https://instagram.com/p/GLOW1"), "GlowLab"),
        (_share("share", url="http://m.instagram.com/reel/GLOW1/?igsh=abc"), "GlowLab"),
        (_share(url="https://www.instagram.com/lena/p/GLOW1/"), "GlowLab"),
        (_share(url="https://sun.example/campaign"), "SunCo"),
        (_share(ig_post_media_id="42"), None),
        (_share(url="https://instagram.com/p/OTHER/"), None),
        (_share(url="not a url at all"), None),
        (_share("image", url="https://instagram.com/p/GLOW1"), None),  # a photo, not a share
    ],
)
def test_a_shared_post_is_matched_by_media_id_or_link(
    attachment: dict[str, Any], brand: str | None
) -> None:
    found = attribute([attachment], day=DAY, cooperations=BOTH)
    assert (found and found.cooperation.brand) == brand
    if found is not None:
        assert found.pointer is Pointer.SHARE


@pytest.mark.parametrize(
    ("day", "brand"),
    [
        (date(2026, 11, 10), "GlowLab"),  # the story's day
        (date(2026, 11, 11), "GlowLab"),  # the day after
        (date(2026, 11, 9), None),  # before it was posted
        (date(2026, 11, 12), "SunCo"),  # GlowLab's was two days before
        (date(2026, 11, 14), None),
    ],
)
def test_a_story_mention_is_matched_by_the_day(day: date, brand: str | None) -> None:
    found = attribute([{"type": "story_mention", "url": "https://x"}], day=day, cooperations=BOTH)
    assert (found and found.cooperation.brand) == brand
    if found is not None:
        assert found.pointer is Pointer.STORY_MENTION
        assert found.about == ("GlowLab — Autumn skincare" if brand == "GlowLab" else "SunCo")


def test_two_stories_the_same_days_leave_a_mention_unattributed() -> None:
    also = CooperationPosts(3, "Other", "", [{"kind": "story", "posted_on": "2026-11-11"}])
    mention = [{"type": "story_mention"}]
    assert attribute(mention, day=date(2026, 11, 11), cooperations=[GLOW, also]) is None
    assert attribute(mention, day=date(2026, 11, 11), cooperations=[GLOW]) is not None


def test_odd_attachments_are_skipped() -> None:
    odd: list[Any] = [None, "story_mention", {"type": None}, {"type": "ig_post", "payload": "x"}]
    assert attribute(odd, day=DAY, cooperations=BOTH) is None
    assert attribute([], day=DAY, cooperations=BOTH) is None
    assert attribute([{"type": "story_mention"}], day=DAY, cooperations=[]) is None


def test_post_links_compare_without_scheme_www_query_or_slash() -> None:
    assert same_post_url("https://www.instagram.com/p/ABC/?igsh=1") == "instagram.com/p/ABC"
    assert same_post_url("http://instagram.com/reel/ABC") == "instagram.com/p/ABC"
    assert same_post_url("https://instagram.com/tv/ABC/") == "instagram.com/p/ABC"
    assert same_post_url("https://Example.com/Post/1/") == "example.com/Post/1"
    assert same_post_url("no scheme") is None
    assert same_post_url("http://[::1") is None
