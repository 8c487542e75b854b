"""The first judge: every fact of a reply belongs to the product asked about and is true
today, and the reply answers what was asked."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from app.drafting.base import ProductMatch
from app.drafting.retrieval import rank_products
from app.models import Cooperation, Product
from app.policy.grounding import answer_problems
from app.policy.reasons import Reason
from app.policy.recognise import recognise
from tests.drafting.catalog import TODAY, cooperation, product

Catalog = list[tuple[Product, Cooperation]]


def shop() -> Catalog:
    # The campaign ended in June; the serum's code stays valid by contract until 2027.
    glow = cooperation(1, brand="GlowLab", starts_on=date(2026, 1, 1), ends_on=date(2026, 6, 30))
    nord = cooperation(2, brand="Nordwind", title="Rain", starts_on=None, ends_on=None)
    return [
        (product(1, glow, name="Vitamin C Serum", aliases=[], discount_code="GLOW15",
                 code_valid_until=date(2027, 3, 31), url="https://glowlab.example/serum",
                 price=Decimal("29.90")), glow),
        (product(2, glow, name="Night Cream", aliases=[], discount_code="NIGHT10",
                 code_valid_until=date(2026, 9, 1), url="https://glowlab.example/night",
                 price=Decimal("34.00")), glow),
        (product(3, glow, name="Eye Gel", aliases=[], discount_code=None,
                 url="https://glowlab.example/eye", price=Decimal("19.90")), glow),
        (product(4, nord, name="Fjell Jacket", aliases=[], discount_code="FJELL",
                 code_valid_until=None, url=None, price=None), nord),
    ]  # fmt: skip


def check(
    text: str, reply: str, cited: tuple[int, ...], also: tuple[int, ...] = ()
) -> list[Reason]:
    """`also`: products retrieved beside the asked one, with a low score."""
    matches: list[ProductMatch] = rank_products(text, shop(), 3, today=TODAY)
    matches += [ProductMatch(p, c, 0.55, "brand") for p, c in shop() if p.id in also]
    recognition = recognise(text, matches, today=TODAY)
    return answer_problems(
        reply, matches=matches, cited=cited, recognition=recognition, today=TODAY
    )


def test_the_asked_products_own_valid_facts_pass() -> None:
    reply = "Vitamin C Serum: code GLOW15, valid until 31/03/2027: https://glowlab.example/serum"
    assert check("code for the vitamin c serum?", reply, (1,)) == []


def test_an_expired_code_is_held_even_though_it_is_in_the_catalog() -> None:
    reasons = check("code for the night cream?", "Night Cream: your code NIGHT10!", (2,))
    assert reasons == ["code 'NIGHT10' has expired"]


def test_another_products_code_is_held() -> None:
    # The eye gel has no code: the serum's, of the same brand, is not its code.
    text = "code for the eye gel?"
    reply = "Eye Gel: code GLOW15 https://glowlab.example/eye"
    reasons = check(text, reply, (3,), also=(1,))
    assert "code 'GLOW15' belongs to Vitamin C Serum, not the product asked about" in reasons
    # Not retrieved at all: still not this product's code.
    assert check(text, reply, (3,)) == ["code 'GLOW15' is not the code of the product asked about"]


def test_a_code_of_unknown_validity_is_never_handed_out() -> None:
    reasons = check("code for the fjell jacket?", "Fjell Jacket: code FJELL", (4,))
    assert any("nobody knows if it works" in r for r in reasons)


def test_facts_of_a_product_nobody_asked_about_are_held() -> None:
    reply = "Night Cream: 34,00 € https://glowlab.example/night"
    reasons = check("how much is the vitamin c serum?", reply, (2,), also=(2,))
    assert any("which the follower did not ask about" in r for r in reasons)
    assert any("price '34,00 €'" in r for r in reasons)
    assert any("link 'https://glowlab.example/night' belongs to Night Cream" in r for r in reasons)


def test_what_was_asked_must_be_answered() -> None:
    assert check("link to the vitamin c serum?", "The Vitamin C Serum is great!", (1,)) == [
        "asked for a link; the reply gives none"
    ]
    reasons = check("link for the fjell jacket?", "Let me check!", (4,))
    assert reasons == ["asked for a link; the catalog has none for Fjell Jacket"]


def test_small_talk_answered_with_a_code_is_held() -> None:
    reasons = check("hi!", "Hi! Here is a code for you: GLOW15", (1,))
    assert reasons


def test_an_invented_code_is_held() -> None:
    reasons = check("code for the vitamin c serum?", "Use VIP50 for 50% off!", (1,))
    assert "code 'VIP50' is not the code of the product asked about" in reasons
    assert any("percentage" in r for r in reasons)


def _desks() -> Catalog:
    desk = cooperation(5, brand="Deskwerk", starts_on=date(2026, 1, 1), ends_on=None)
    return [
        (product(5, desk, name="Deskwerk Standing Desk E2", aliases=["E2"],
                 discount_code="DESKNICO", url="https://deskwerk.example/e2",
                 price=Decimal("449.00"), description="Height-adjustable frame."), desk),
        (product(6, desk, name="Deskwerk Standing Desk E3 Pro", aliases=["E3 Pro"],
                 discount_code="DESKPRO75", url="https://deskwerk.example/e3",
                 price=Decimal("649.00"), description="Three-stage frame."), desk),
    ]  # fmt: skip


def _check_desks(text: str, reply: str, cited: tuple[int, ...]) -> list[Reason]:
    matches = rank_products(text, _desks(), 3, today=TODAY)
    recognition = recognise(text, matches, today=TODAY)
    return answer_problems(
        reply, matches=matches, cited=cited, recognition=recognition, today=TODAY
    )


def test_a_model_number_in_a_products_name_is_not_a_code() -> None:
    """ "E2" looks like a code; it is the name of a product asked about. A question naming
    the candidates states no code, and a real code in it is still held."""
    text = "how much is the deskwerk standing desk?"
    question = "Which one do you mean: Deskwerk Standing Desk E2 or Deskwerk Standing Desk E3 Pro?"
    assert _check_desks(text, question, (5, 6)) == []
    assert _check_desks(text, question, ()) == []
    guessed = "Deskwerk Standing Desk E2: code DESKNICO"
    assert "code 'DESKNICO' belongs to Deskwerk Standing Desk E2, not the product asked about" in (
        _check_desks(text, guessed, (5,))
    )
    assert _check_desks(text, "E2 or E3 Pro? Code XK42", ()) == [
        "code 'XK42' is not the code of the product asked about"
    ]
