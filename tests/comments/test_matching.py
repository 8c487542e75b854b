"""Keyword matching of comment triggers: whole words, any case, accents, emoji."""

from __future__ import annotations

import pytest

from app.comments.matching import keyword_tokens, matches, remainder


@pytest.mark.parametrize(
    "comment",
    [
        "SERUM",
        "serum",
        "SERUM!!",
        "serum😍",
        "😍😍serum😍",
        "Sérum",
        "SÉRUM please",
        "#serum",
        "@lena serum",
        "serums",  # a plural matches its singular (documented in app/comments/matching.py)
        "I want the serum, thanks",
        "serum.",
        "(serum)",
        "   serum   ",
    ],
)
def test_serum_matches(comment: str) -> None:
    assert matches(comment, ["SERUM"])


@pytest.mark.parametrize(
    "comment",
    [
        "serumbox",
        "superserum",
        "ser um",
        "seru",
        "",
        "😍",
        "sérénité",
        "se-rum",
    ],
)
def test_serum_does_not_match(comment: str) -> None:
    assert not matches(comment, ["SERUM"])


@pytest.mark.parametrize(
    ("keyword", "comment", "expected"),
    [
        ("glow drops", "Glow drops please!", True),
        ("glow drops", "GLOW  DROPS😍", True),
        ("glow drops", "glow-drops", True),
        ("glow drops", "#glow #drops", True),
        ("glow drops", "glow drop", True),
        ("glow drops", "drops glow", False),
        ("glow drops", "glow", False),
        ("glow drops", "glow the drops", False),
        # German: ß folds to ss, umlauts to their letter
        ("Straße", "STRASSE", True),
        ("Gesichtsöl", "gesichtsol bitte", True),
        ("Gesichtsöl", "Gesichtsöl!", True),
        # French, Italian, Spanish accents both ways
        ("crème", "creme svp", True),
        ("creme", "Crème 🙏", True),
        ("caffè", "CAFFE", True),
        ("piña", "pina por favor", True),
        ("Niño", "niños", True),
        ("ÉCLAT", "eclat", True),
        # digits are words too
        ("code20", "Code20!", True),
        ("code20", "code 20", False),
    ],
)
def test_keywords_in_five_languages(keyword: str, comment: str, expected: bool) -> None:
    assert matches(comment, [keyword]) is expected


def test_any_of_several_keywords() -> None:
    assert matches("LINK please", ["serum", "link"])
    assert not matches("hello", ["serum", "link"])
    assert not matches("serum", [])


def test_keywords_without_letters_match_nothing() -> None:
    assert keyword_tokens("😍!!") == ()
    assert not matches("😍!!", ["😍!!"])


@pytest.mark.parametrize(
    ("comment", "left"),
    [
        ("SERUM", ""),
        ("serum😍", "😍"),
        ("Sérum please!!", "please"),
        ("SERUM but it gave me a rash", "but it gave me a rash"),
        ("glow drops and serum 😡", "and 😡"),
    ],
)
def test_remainder_is_what_the_comment_says_besides_the_keywords(comment: str, left: str) -> None:
    assert remainder(comment, ["serum", "glow drops"]) == left
