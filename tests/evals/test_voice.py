"""The voice measurement (evals/voice.py): what "a moderator would approve it unchanged"
means, and that the scripted model copies only what its prompt's examples share."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from app.drafting.base import DraftResult, VoiceExample
from evals.dataset import Catalog
from evals.evaluate import build_request
from evals.voice import (
    GREETINGS,
    VoiceModel,
    content_right,
    evaluate_voice,
    has_voice,
    imitate,
    in_voice,
    prompt_examples,
    voice_persona,
)
from tests.evals.builders import AIR, MAX, TODAY, matches, message

ACCOUNT = "Lena Loves"


def result(reply: str, **overrides: Any) -> DraftResult:
    values: dict[str, Any] = {
        "reply": reply,
        "intent": "discount_code",
        "language": "en",
        "confidence": 0.9,
    }
    values.update(overrides)
    return DraftResult(**values)


def test_the_voice_is_the_languages_greeting_and_the_sign_off() -> None:
    voiced = in_voice("Your code: AIR20", "de", ACCOUNT)
    assert voiced == "Hallo ihr Lieben! Your code: AIR20\nxx Lena"
    assert has_voice(voiced, "de", ACCOUNT)
    assert not has_voice(voiced, "en", ACCOUNT)  # another language's greeting
    assert not has_voice("Hallo ihr Lieben! Your code: AIR20", "de", ACCOUNT)
    assert not has_voice("Your code: AIR20\nxx Lena", "de", ACCOUNT)
    assert "Greeting (fr): Coucou toi !" in voice_persona(ACCOUNT)
    assert "Sign-off: xx Lena" in voice_persona(ACCOUNT)


def test_right_content_needs_the_valid_code_asked_for_in_the_right_language(
    tiny: Catalog,
) -> None:
    m = message("v1", "code for the air headphones?", (AIR,))
    assert content_right(m, result("Here: AIR20"), tiny, TODAY)
    assert not content_right(m, result("Here is the link."), tiny, TODAY)  # no code
    assert not content_right(m, result("Here: MAX10"), tiny, TODAY)  # another product's
    assert not content_right(m, result("Here: AIR20", language="de"), tiny, TODAY)
    assert not content_right(m, result("Here: AIR20", needs_human=True), tiny, TODAY)
    assert not content_right(m, result("Sorry, the code has expired."), tiny, TODAY)
    expired = message("v2", "code for the max headphones?", (MAX,))
    assert content_right(expired, result("Sorry, the Sonora code has expired."), tiny, TODAY)


def test_the_scripted_model_copies_what_its_same_language_examples_share() -> None:
    examples: list[dict[str, object]] = [
        {"language": "en", "reply": "Hey lovely! Code: X\nxx Lena"},
        {"language": "en", "reply": "Hey lovely! Link: Y\nxx Lena"},
        {"language": "en", "reply": "Hi there! Price: Z"},
        {"language": "de", "reply": "Hallo ihr Lieben! Code: X\nEure Lena"},
    ]
    assert imitate("Code: AIR20", examples, "en") == "Hey lovely! Code: AIR20\nxx Lena"
    assert imitate("Code: AIR20", examples, "it") == "Code: AIR20"


async def test_the_scripted_model_reads_the_examples_from_the_prompt(tiny: Catalog) -> None:
    m = message("v3", "code for the air headphones?", (AIR,))
    request = build_request(m, matches(tiny, AIR), TODAY)
    plain = await VoiceModel(m, tiny).draft(request)
    assert prompt_examples(request) == []
    example = VoiceExample("discount_code", "en", (AIR,), "Hey lovely! Code: MAX10\nxx Lena", True)
    voiced = await VoiceModel(m, tiny).draft(replace(request, examples=(example,)))
    assert voiced.reply == f"Hey lovely! {plain.reply}\nxx Lena"
    assert "MAX10" not in voiced.reply  # the voice is copied, never the facts


async def test_approvals_teach_the_next_drafts_of_the_same_language(tiny: Catalog) -> None:
    messages = [
        message("e1", "code for the air headphones?", (AIR,)),
        message("e2", "air headphones code please", (AIR,)),
        message("d1", "Code für die Air Kopfhörer?", (AIR,), language="de"),
        message("r1", "my headphones broke", (AIR,), decision="review", sensitive="complaint"),
    ]
    figures = await evaluate_voice(messages, tiny, TODAY, ACCOUNT)

    good = figures["good"]
    assert good.labelled_auto == 3  # the review message is not counted
    assert good.with_examples == 1  # e2 learnt from e1; d1 has no German approval yet
    assert good.content_right == 3
    assert good.unchanged == good.in_voice == 1
    offline = figures["offline"]
    assert offline.in_voice == 3  # the persona's lines frame every offline reply
    assert offline.unchanged == offline.content_right
    assert set(GREETINGS) == {"de", "en", "es", "fr", "it"}
