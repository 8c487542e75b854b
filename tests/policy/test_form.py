"""The form checks: one message, few links and emoji, nobody else's personal data."""

from __future__ import annotations

import pytest

from app.policy.form import form_problems
from app.policy.reasons import Reason

KNOWN = [
    "Vitamin C Serum: 15% off with LENA15 at https://glowlab.example/serum",
    "Questions? hello@glowlab.example or +49 30 1234567, follow @glowlab",
    "my number is 0171 5550199, send me the link",  # the follower's own words
]


def problems(reply: str, platform: str = "instagram") -> list[Reason]:
    return form_problems(reply, platform=platform, known_texts=KNOWN)


@pytest.mark.parametrize(
    "reply",
    [
        "Hi! Your code is LENA15 ✨ valid until 31.12.2026 (or 2026-12-31).",
        "Write to hello@glowlab.example or call +49 30 1234567 😊 and follow @glowlab!",
        "I'll text you at 0171 5550199 later.",
        "Here: https://glowlab.example/serum and https://glowlab.example/",
        "Bis 01.06.2027 gültig, 29,90 €.",
    ],
)
def test_a_clean_reply_passes(reply: str) -> None:
    assert problems(reply) == []


def test_one_instagram_message_is_1000_bytes() -> None:
    assert problems("a" * 1000) == []
    assert problems("ä" * 501) == ["longer than one Instagram message (1000 bytes)"]
    assert problems("ä" * 501, "messenger") == []
    assert problems("a" * 2001, "messenger") == [
        "longer than one Messenger message (2000 characters)"
    ]


def test_links_and_emoji_are_counted() -> None:
    three = "https://a.example https://b.example https://c.example"
    assert problems(three) == ["3 links (at most 2 sent automatically)"]
    assert problems("yay " + "🎉" * 7) == ["7 emoji (at most 6 sent automatically)"]
    assert problems("🎉" * 6) == []


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("Anna (anna.k@gmail.com) got the same code", "an email address"),
        ("ask @anna_92, she bought it too", "mentions @anna_92"),
        ("Call Tom on +44 7700 900123", "a phone number"),
        ("Pay to DE89 3704 0044 0532 0130 00", "a bank account number"),
    ],
)
def test_someone_elses_personal_data_is_flagged(reply: str, reason: str) -> None:
    [problem] = problems(reply)
    assert problem.startswith(f"personal data: {reason}")
