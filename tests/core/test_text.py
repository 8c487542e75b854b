from __future__ import annotations

import pytest

from app.core.text import fold, normalise, tokens


def test_normalise_casefolds_strips_accents_and_punctuation() -> None:
    assert normalise("  Crème  BRÛLÉE!!  Sérum---Größe ") == "creme brulee serum grosse"


def test_normalise_keeps_digits_and_drops_emoji() -> None:
    assert normalise("SPF50+ 😍 (30 ml)") == "spf50 30 ml"


@pytest.mark.parametrize(
    ("plural", "singular"),
    [
        ("serums", "serum"),  # en
        ("Jacken", "jacke"),  # de
        ("cremas", "crema"),  # es
        ("crèmes", "creme"),  # fr
        ("pinceaux", "pinceau"),  # fr
        ("berries", "berry"),  # en
        ("glasses", "glass"),  # en, "ss" stays
        ("boxes", "box"),
        ("brushes", "brush"),
    ],
)
def test_plural_forms_fold_to_the_singular(plural: str, singular: str) -> None:
    assert tokens(plural) == [singular]
    assert tokens(singular) == [singular]


@pytest.mark.parametrize("word", ["citrus", "iris", "glass", "gel", "spf50", "c"])
def test_stems_ending_like_plurals_are_kept(word: str) -> None:
    assert fold(word) == word


def test_folding_is_stable() -> None:
    for word in ["screens", "jacken", "berries", "cremas"]:
        assert fold(fold(word)) == fold(word)


def test_tokens_make_case_accents_and_plural_irrelevant() -> None:
    assert tokens("Vitamin-C SÉRUMS") == tokens("vitamin c serum") == ["vitamin", "c", "serum"]
    assert tokens("Regenjacken") == tokens("regenjacke")
