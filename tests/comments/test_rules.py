"""The rules of comment replies in isolation: which trigger, which public reply, what a
keyword-only comment asks, the prompt's note, and one row per comment on both databases."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.comments import repository
from app.comments.context import KEYWORD_ASKS, keyword_recognition
from app.comments.intake import choose_trigger, pick_variant
from app.core.clock import utc_now
from app.drafting.base import DraftRequest, ProductMatch
from app.drafting.prompt import user_prompt
from app.models import CommentTrigger, Cooperation, Product
from tests.builders import create_account, create_contact, create_conversation

TODAY = date(2026, 10, 1)


def _trigger(trigger_id: int, keywords: list[str], media_id: str | None) -> CommentTrigger:
    return CommentTrigger(id=trigger_id, account_id=1, keywords=keywords, media_id=media_id)


def test_a_post_trigger_wins_over_an_any_post_one() -> None:
    anywhere = _trigger(1, ["serum"], None)
    post = _trigger(2, ["serum"], "P1")
    other_post = _trigger(3, ["serum"], "P2")
    triggers = [anywhere, post, other_post]
    assert choose_trigger(triggers, "SERUM!", "P1") is post
    assert choose_trigger(triggers, "SERUM!", "P9") is anywhere
    assert choose_trigger(triggers, "hello", "P1") is None
    assert choose_trigger([other_post], "serum", "P1") is None


def test_among_equals_the_oldest_trigger_wins() -> None:
    older, newer = _trigger(4, ["glow"], None), _trigger(9, ["serum"], None)
    assert choose_trigger([newer, older], "glow serum", None) is older


def test_public_replies_never_repeat_the_previous_one() -> None:
    rng = random.Random(7)
    lines = ["a", "b", "c"]
    previous = None
    for _ in range(50):
        chosen = pick_variant(lines, previous, rng)
        assert chosen in lines
        assert chosen != previous
        previous = chosen
    assert pick_variant(["only"], "only", rng) == "only"
    assert pick_variant([], None, rng) is None


def _match() -> ProductMatch:
    cooperation = Cooperation(id=1, account_id=1, brand="GlowLab", title="Autumn")
    product = Product(
        id=5, account_id=1, cooperation_id=1, name="Vitamin C Serum", aliases=["Glow Serum"]
    )
    return ProductMatch(product=product, cooperation=cooperation, score=1.0, matched_on="trigger")


@pytest.mark.parametrize(
    "comment",
    ["SERUM", "serum!!!", "Sérum 😍🙏", "Hi! serum please", "SERUM thank you", "serum bitte ❤️"],
)
def test_the_keyword_alone_asks_for_code_and_link(comment: str) -> None:
    recognition = keyword_recognition(
        comment, ["SERUM"], _match(), account_name="Lena Loves", today=TODAY
    )
    assert recognition is not None
    assert (recognition.asks, recognition.subject) == (KEYWORD_ASKS, (5,))
    assert recognition.recognised


@pytest.mark.parametrize(
    "comment",
    [
        "SERUM but it gave me a rash",
        "SERUM is it ok in pregnancy",
        "SERUM 😡",
        "SERUM how much is it",
        "SERUM for my daughter",
    ],
)
def test_anything_else_is_read_as_a_message(comment: str) -> None:
    assert (
        keyword_recognition(comment, ["SERUM"], _match(), account_name="Lena", today=TODAY) is None
    )


def test_the_prompt_says_it_is_a_comment_only_when_it_is() -> None:
    base = DraftRequest(
        account_name="Lena",
        platform="instagram",
        persona="",
        languages=("en",),
        history=(),
        follower_text="SERUM",
        products=(),
        today=TODAY,
    )
    plain = user_prompt(base)
    assert "comment" not in plain
    noted = user_prompt(replace(base, situation="A public comment under Lena's post."))
    assert "A public comment under Lena's post.\n\nThe follower's latest message" in noted
    assert noted.replace("A public comment under Lena's post.\n\n", "") == plain


async def test_one_row_per_comment(session: AsyncSession) -> None:
    account = await create_account(session)
    contact = await create_contact(session, account)
    conversation = await create_conversation(session, account, contact)
    values: dict[str, Any] = {
        "account_id": account.id,
        "conversation_id": conversation.id,
        "comment_id": "178001",
        "commented_at": utc_now(),
        "status": "waiting",
    }
    first = await repository.insert_reply(session, values)
    second = await repository.insert_reply(session, {**values, "status": "skipped"})
    await session.commit()
    assert first is not None
    assert second is None
