"""The offline drafter frames its replies with the persona's greeting and sign-off, in the
follower's language."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from app.drafting.assess import assess
from app.drafting.base import DraftResult
from app.drafting.offline import OfflineDrafter
from app.drafting.persona import parse_voice
from app.drafting.retrieval import rank_products
from app.policy.schemas import Policy
from tests.drafting.catalog import TODAY, catalog, request

PERSONA = """Warm, short, a little playful.
Greeting: Hey you!
Greeting (de): Hallo ihr Lieben!
Greeting (it): Ciao bella!
Sign-off: xx Lena
Sign-off (fr): Bisous, Lena
"""
AUTOPILOT = Policy(mode="autopilot", min_confidence=0.8)


async def draft(text: str, persona: str = PERSONA) -> DraftResult:
    matches = rank_products(text, catalog(), 3, today=TODAY)
    return await OfflineDrafter().draft(replace(request(text, matches), persona=persona))


@pytest.mark.parametrize(
    ("text", "language", "greeting", "sign_off"),
    [
        ("Hast du einen Rabattcode für das Vitamin C Serum?", "de", "Hallo ihr Lieben!", "xx Lena"),
        ("Do you have a code for the vitamin c serum?", "en", "Hey you!", "xx Lena"),
        ("Tu as un code promo pour le sérum vitamine C ?", "fr", "Hey you!", "Bisous, Lena"),
        ("Hai un codice sconto per il Vitamin C Serum?", "it", "Ciao bella!", "xx Lena"),
    ],
)
async def test_a_code_reply_is_framed_in_the_followers_language(
    text: str, language: str, greeting: str, sign_off: str
) -> None:
    plain = await draft(text, persona="Warm, short, a little playful.")
    framed = await draft(text)

    assert framed.language == language
    assert framed.reply == f"{greeting} {plain.reply}\n{sign_off}"
    assert "LENA15" in framed.reply
    # The frame changes nothing a decision reads.
    assert (framed.intent, framed.confidence, framed.product_ids) == (
        plain.intent,
        plain.confidence,
        plain.product_ids,
    )


async def test_the_framed_reply_is_still_sent_automatically() -> None:
    text = "Do you have a code for the vitamin c serum?"
    matches = rank_products(text, catalog(), 3, today=TODAY)
    framed_request = replace(request(text, matches), persona=PERSONA)
    result = await OfflineDrafter().draft(framed_request)
    now = datetime(TODAY.year, TODAY.month, TODAY.day, 12, tzinfo=UTC)

    assert assess(framed_request, result, None, policy=AUTOPILOT, now=now).decision == "auto"


async def test_a_hello_gets_the_personas_greeting_instead_of_the_templates() -> None:
    result = await draft("Hallo!")

    assert result.reply.startswith("Hallo ihr Lieben! Danke für deine Nachricht.")
    assert "Hi!" not in result.reply
    assert result.reply.endswith("\nxx Lena")


async def test_a_holding_reply_is_framed_too() -> None:
    result = await draft("Which camera do you film with?")

    assert result.needs_human
    assert result.reply.startswith("Hey you! Thanks for your message!")
    assert result.reply.endswith("xx Lena")


async def test_without_greeting_or_sign_off_lines_the_reply_is_unchanged() -> None:
    text = "Do you have a code for the vitamin c serum?"
    persona = "Warm. Always ends with a greeting and a sign-off."
    plain = await draft(text, persona="")

    assert (await draft(text, persona=persona)).reply == plain.reply
    assert plain.reply.startswith("Vitamin C Serum (GlowLab):")


def test_persona_lines_by_language_with_a_default() -> None:
    voice = parse_voice(PERSONA + "SIGN OFF [de]: Eure Lena\nsignoff(es): Besos, Lena")

    assert voice.greeting("de") == "Hallo ihr Lieben!"
    assert voice.greeting("es") == "Hey you!"
    assert voice.sign_off("de") == "Eure Lena"
    assert voice.sign_off("es") == "Besos, Lena"
    assert voice.sign_off("en") == "xx Lena"
    assert parse_voice("Warm and friendly.").greeting("en") is None
