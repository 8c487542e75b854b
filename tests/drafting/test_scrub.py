"""The scrubber: an approved reply shown to the model as an example keeps the
influencer's words and loses the other follower's personal data."""

from __future__ import annotations

import pytest

from app.drafting.scrub import EMAIL, LINK, ORDER, PHONE, name_parts, scrub

CATALOG_URL = "https://glowlab.example/serum"


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("Hi Anna! Your code is LENA15 💛", "Hi! Your code is LENA15 💛"),
        ("Hallo anna, hier ist dein Code.", "Hallo, hier ist dein Code."),
        ("Anna, the code works!", "the code works!"),
        ("Hey Schmidt!", "Hey!"),
        ("Hey @anna_b, here you go", "Hey, here you go"),
        ("thanks anna_b!", "thanks!"),
        ("Ciao Anna-Lena!", "Ciao!"),
    ],
)
def test_the_other_followers_name_and_username_are_removed(reply: str, expected: str) -> None:
    assert scrub(reply, names=["Anna Schmidt", "anna_b", "Anna-Lena"]) == expected


def test_names_are_removed_as_whole_words_only() -> None:
    assert scrub("Your Annabelle bag and the banana serum", names=["Anna"]) == (
        "Your Annabelle bag and the banana serum"
    )


def test_any_handle_is_removed_even_of_someone_not_in_the_conversation() -> None:
    assert scrub("Ask @mia.beauty or @x_y_z about it.", names=[]) == "Ask or about it."


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("Write to anna.b@mail.de please", f"Write to {EMAIL} please"),
        ("Call me at +49 170 1234567!", f"Call me at {PHONE}!"),
        ("Ruf an: 0170/123 45 67", f"Ruf an: {PHONE}"),
        ("numéro 06 12 34 56 78.", f"numéro {PHONE}."),
    ],
)
def test_emails_and_phone_numbers_are_replaced(reply: str, expected: str) -> None:
    assert scrub(reply) == expected


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("Your order #48213 is on its way", f"Your order {ORDER} is on its way"),
        ("Deine Bestellung 1002345 ist unterwegs", f"Deine Bestellung {ORDER} ist unterwegs"),
        ("Bestellnummer: AB-20931", f"Bestellnummer {ORDER}"),
        ("Ta commande n° 77812 arrive", f"Ta commande n° {ORDER} arrive"),
        ("tracking 884512739 updated", f"tracking {ORDER} updated"),
    ],
)
def test_order_numbers_are_replaced(reply: str, expected: str) -> None:
    assert scrub(reply) == expected


def test_links_not_from_the_catalog_are_replaced_and_the_catalogs_kept() -> None:
    reply = f"Here: {CATALOG_URL}. Or https://shop.example/u/anna?ref=42, or www.evil.example!"
    assert scrub(reply, allowed_urls=[CATALOG_URL]) == (
        f"Here: {CATALOG_URL}. Or {LINK}, or {LINK}!"
    )


def test_catalog_facts_dates_and_prices_stay() -> None:
    reply = "Code LENA15 (15% off) until 31.12.2026, it costs 29,90 €. xx Lena"
    assert scrub(reply, names=["Anna"], allowed_urls=[CATALOG_URL]) == reply


def test_name_parts_longest_first_and_without_single_letters() -> None:
    assert name_parts(["Anna M. Schmidt", "@anna_b", None, ""]) == [
        "Anna M. Schmidt",
        "Schmidt",
        "anna_b",
        "anna",
    ]


def test_the_influencers_own_spacing_is_kept() -> None:
    reply = "Coucou toi ! Ton code : LENA15 ,  à bientôt ?\nxx Lena"
    assert scrub(reply, names=["Zoé"]) == reply
    assert scrub("Coucou Zoé ! Ton code : LENA15", names=["Zoé"]) == "Coucou ! Ton code : LENA15"


def test_a_clause_left_empty_loses_its_comma() -> None:
    assert scrub("Thanks for the tip, @anna_b. See you!") == "Thanks for the tip. See you!"
