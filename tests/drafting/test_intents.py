from __future__ import annotations

import pytest

from app.drafting.intents import RULES, classify_intent
from app.policy.schemas import INTENTS


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("Hast du einen Rabattcode für GlowLab?", "discount_code"),
        ("Do you have a discount code?", "discount_code"),
        ("¿Tienes un código de descuento?", "discount_code"),
        ("Tu as un code promo ?", "discount_code"),
        ("Hai un codice sconto?", "discount_code"),
        ("Hi! do you have a code for glowlab?", "discount_code"),
        ("Funktioniert der Code LENA15 noch?", "code_validity"),
        ("does the code still work?", "code_validity"),
        ("¿El código sigue funcionando?", "code_validity"),
        ("Le code marche encore ?", "code_validity"),
        ("Il codice funziona ancora?", "code_validity"),
        ("Wo kann ich das Serum kaufen?", "product_link"),
        ("where can I buy the serum", "product_link"),
        ("link pls", "product_link"),
        ("¿Dónde lo compro?", "product_link"),
        ("Où est-ce que je peux acheter le sérum ?", "product_link"),
        ("Dove posso comprare la crema?", "product_link"),
        ("Was kostet das Serum?", "price"),
        ("how much is the serum", "price"),
        ("¿Cuánto cuesta?", "price"),
        ("Combien coûte le sérum ?", "price"),
        ("Quanto costa?", "price"),
        ("Ist das Serum für empfindliche Haut geeignet?", "product_info"),
        ("is it good for sensitive skin?", "product_info"),
        ("¿Qué ingredientes tiene?", "product_info"),
        ("Hi!", "greeting"),
        ("hi how are you", "greeting"),
        ("Hallo :)", "greeting"),
        ("hola guapa", "greeting"),
        ("Bonjour", "greeting"),
        ("ciao bella", "greeting"),
        ("Danke!!", "thanks"),
        ("thank you so much", "thanks"),
        ("Gracias", "thanks"),
        ("Merci", "thanks"),
        ("Grazie mille", "thanks"),
        ("love your last video", "other"),
        ("vitamin c serum?", "other"),
        ("", "other"),
    ],
)
def test_classify_intent(text: str, intent: str) -> None:
    assert classify_intent(text) == intent


def test_validity_words_alone_are_not_about_a_code() -> None:
    assert classify_intent("does it still work on oily skin?") != "code_validity"


def test_every_rule_names_a_known_intent() -> None:
    assert {rule.intent for rule in RULES} | {"other"} == set(INTENTS)
    assert all(rule.requires in (None, *INTENTS) for rule in RULES)


@pytest.mark.parametrize(
    "text",
    [
        "Hi! Is the serum good for oily skin?",
        "Hallo, wie lange hält die Jacke warm",
        "Buenas, ¿tiene envío gratis?",
    ],
)
def test_a_greeting_that_asks_something_is_not_small_talk(text: str) -> None:
    assert classify_intent(text) not in {"greeting", "thanks"}
