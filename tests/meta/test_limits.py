"""split_text and parse_usage: Meta's per-message and rate limits."""

from __future__ import annotations

import json
import random

import pytest

from app.meta.limits import (
    INSTAGRAM_MAX_BYTES,
    MAX_PARTS,
    MESSENGER_MAX_CHARS,
    TextTooLong,
    Usage,
    parse_usage,
    split_text,
)


def words(text: str) -> list[str]:
    return text.split()


def test_short_text_is_one_part_and_stripped() -> None:
    assert split_text("  Hi there!\n", "messenger") == ["Hi there!"]
    assert split_text("Hi there!", "instagram") == ["Hi there!"]


@pytest.mark.parametrize("text", ["", "   ", "\n\t \n"])
@pytest.mark.parametrize("platform", ["messenger", "instagram"])
def test_empty_text_is_refused(text: str, platform: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        split_text(text, platform)


def test_unknown_platform_is_refused() -> None:
    with pytest.raises(ValueError, match="platform"):
        split_text("hi", "whatsapp")


def test_exact_limits_fit_in_one_part() -> None:
    assert split_text("a" * MESSENGER_MAX_CHARS, "messenger") == ["a" * MESSENGER_MAX_CHARS]
    assert split_text("a" * INSTAGRAM_MAX_BYTES, "instagram") == ["a" * INSTAGRAM_MAX_BYTES]
    assert len(split_text("a" * (INSTAGRAM_MAX_BYTES + 1), "instagram")) == 2


def test_instagram_counts_utf8_bytes() -> None:
    text = "ü" * 600  # 1200 bytes, 600 characters
    parts = split_text(text, "instagram")
    assert [len(p.encode()) for p in parts] == [1000, 200]
    assert "".join(parts) == text


def test_messenger_counts_characters_not_bytes() -> None:
    assert split_text("ü" * 1500, "messenger") == ["ü" * 1500]


def test_never_splits_inside_a_multibyte_character() -> None:
    text = "a" + "😀" * 400  # 1 + 1600 bytes; an odd start misaligns 4-byte chars
    parts = split_text(text, "instagram")
    assert all(len(p.encode("utf-8")) <= INSTAGRAM_MAX_BYTES for p in parts)
    assert "".join(parts) == text


def test_keeps_emoji_modifiers_with_their_emoji() -> None:
    text = "x" * 998 + "👍🏽" + "y"  # the modifier would land just past the limit
    parts = split_text(text, "instagram")
    assert parts[0] == "x" * 998
    assert parts[1].startswith("👍🏽")


def test_prefers_paragraph_breaks() -> None:
    first = "First paragraph. " * 40  # ~680 bytes
    second = "Second paragraph. " * 30
    parts = split_text(f"{first}\n\n{second}", "instagram")
    assert parts == [first.strip(), second.strip()]


def test_prefers_sentence_breaks_over_word_breaks() -> None:
    text = ("This is a sentence with several words. " * 30).strip()  # ~1170 bytes
    parts = split_text(text, "instagram")
    assert len(parts) == 2
    assert parts[0].endswith(".")
    assert parts[1].startswith("This")


def test_falls_back_to_word_breaks() -> None:
    text = " ".join(["word"] * 400)  # no punctuation, 1999 bytes
    parts = split_text(text, "instagram")
    assert all(len(p.encode()) <= INSTAGRAM_MAX_BYTES for p in parts)
    assert words(" ".join(parts)) == words(text)


def test_never_cuts_a_link() -> None:
    link = "https://shop.example.com/products/" + "x" * 60 + "?ref=influencer"
    text = "Get it here:" + "." * 900 + link + " enjoy"  # no whitespace before the link
    parts = split_text(text, "instagram")
    assert any(link in part for part in parts)
    assert all(len(p.encode()) <= INSTAGRAM_MAX_BYTES for p in parts)


def test_a_link_longer_than_one_message_is_refused() -> None:
    with pytest.raises(TextTooLong):
        split_text("https://example.com/" + "a" * 1100, "instagram")


def test_too_many_parts_is_refused() -> None:
    text = "word " * (INSTAGRAM_MAX_BYTES * MAX_PARTS // 5 + 50)
    with pytest.raises(TextTooLong):
        split_text(text, "instagram")
    assert issubclass(TextTooLong, ValueError)


def test_max_parts_is_allowed() -> None:
    text = ("a" * 999 + " ") * MAX_PARTS
    assert len(split_text(text, "instagram")) == MAX_PARTS


@pytest.mark.parametrize("platform", ["messenger", "instagram"])
def test_random_texts_round_trip(platform: str) -> None:
    rng = random.Random(20260601)
    alphabet = ["a", "b", "é", "ß", "😀", "中", " ", " ", ".", "\n", "https://x.io/abc"]
    for _ in range(200):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 2500))).strip() or "z"
        try:
            parts = split_text(text, platform)
        except TextTooLong:
            continue
        assert 1 <= len(parts) <= MAX_PARTS
        for part in parts:
            assert part
            assert part == part.strip()
            if platform == "instagram":
                assert len(part.encode("utf-8")) <= INSTAGRAM_MAX_BYTES
            else:
                assert len(part.encode("utf-16-le")) // 2 <= MESSENGER_MAX_CHARS
        assert "".join("".join(p.split()) for p in parts) == "".join(text.split())


# --- usage headers --------------------------------------------------------------------


def test_usage_from_business_use_case_header() -> None:
    buc = {
        "1048": [
            {"type": "pages", "call_count": 28, "total_cputime": 95, "total_time": 40},
            {"type": "messenger", "call_count": 12, "estimated_time_to_regain_access": 0},
        ],
        "1049": [{"type": "instagram", "call_count": "100", "estimated_time_to_regain_access": 7}],
    }
    usage = parse_usage({"X-Business-Use-Case-Usage": json.dumps(buc)})
    assert usage.business_percent == 100
    assert usage.platform_percent is None
    assert usage.max_percent == 100
    assert usage.regain_access_minutes == 7
    assert usage.retry_after_seconds == 420
    assert usage.is_near_limit()


def test_usage_from_app_usage_header() -> None:
    app = {"call_count": 40, "total_cputime": 81, "total_time": 10}
    usage = parse_usage({"x-app-usage": json.dumps(app)})
    assert (usage.platform_percent, usage.max_percent) == (81, 81)
    assert usage.retry_after_seconds is None
    assert not usage.is_near_limit()
    assert usage.is_near_limit(threshold=80)


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-App-Usage": "not json"}, {"X-Business-Use-Case-Usage": "[1, 2]"}, {"X-App-Usage": ""}],
)
def test_missing_or_garbled_usage_is_not_reported(headers: dict[str, str]) -> None:
    usage = parse_usage(headers)
    assert usage == Usage()
    assert usage.max_percent is None
    assert not usage.is_near_limit()
