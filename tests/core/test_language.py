from __future__ import annotations

import pytest

from app.core.language import detect_language


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Hast du einen Rabattcode für das Serum?", "de"),
        ("Wo kann ich die Jacke kaufen?", "de"),
        ("Do you have a discount code for the serum?", "en"),
        ("Is the serum good for sensitive skin?", "en"),
        ("¿Tienes un código de descuento para el sérum?", "es"),
        ("Tu as un code promo pour le sérum ?", "fr"),
        ("Hai un codice sconto per il siero?", "it"),
    ],
)
def test_detects_the_five_languages(text: str, language: str) -> None:
    assert detect_language(text) == language


@pytest.mark.parametrize("text", ["code?", "ok", "😍😍", "", "LENA15", "https://glowlab.example"])
def test_short_or_empty_text_falls_back_to_default(text: str) -> None:
    assert detect_language(text) == "en"
    assert detect_language(text, default="de") == "de"


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Danke!", "de"),
        ("gracias!!", "es"),
        ("Merci beaucoup !", "fr"),
        ("Grazie mille", "it"),
        ("graciaaas 💛", "es"),  # stretched inside the word, not only at its end
        ("Dankeee", "de"),
    ],
)
def test_short_text_with_a_telling_word(text: str, language: str) -> None:
    assert detect_language(text) == language


def test_restricted_to_allowed_languages() -> None:
    text = "Tu as un code promo pour le sérum ?"
    # French is not among the account's languages: answer in the default, not in German.
    assert detect_language(text, allowed=("de", "en"), default="en") == "en"
    assert detect_language(text, allowed=("de", "en"), default="de") == "de"
    assert detect_language("Wo kann ich die Jacke kaufen?", allowed=("de", "en")) == "de"
