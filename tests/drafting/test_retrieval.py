from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from app.drafting.catalog_index import CatalogIndexes
from app.drafting.retrieval import MIN_SCORE, rank_in_conversation, rank_products, retrieve
from tests.builders import create_account, create_cooperation, create_product
from tests.drafting.catalog import TODAY, catalog, cooperation, product


def names(text: str, limit: int = 3) -> list[str]:
    return [match.product.name for match in rank_products(text, catalog(), limit, today=TODAY)]


@pytest.mark.parametrize(
    "text",
    [
        "hi how are you",
        "love your last video",
        "Ich liebe deine Videos, mach weiter so!",
        "Merci beaucoup, tu es géniale",
        "Ciao bella, come stai?",
        "Hola guapa, ¿qué tal?",
        "code?",
        "",
    ],
)
def test_unrelated_messages_match_nothing(text: str) -> None:
    assert names(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("vitamin c seerum", "Vitamin C Serum"),  # misspelt
        ("VITAMIN-C SERUMS?", "Vitamin C Serum"),  # case, punctuation, plural
        ("Wo kann ich das Vitamin C Serum kaufen?", "Vitamin C Serum"),
        ("¿Dónde compro el sérum de vitamina C?", "Vitamin C Serum"),
        ("Quanto costa la crema night repair?", "Night Repair Cream"),
        ("Le code pour la crème de nuit GlowLab ?", "Night Repair Cream"),
        ("Hast du noch einen Code für die Fjell Jacke?", "Regenjacke Fjell"),  # alias
        ("what sunscreen do you use", "Protector Solar SPF 50"),  # alias
        ("code for the glow serum", "Vitamin C Serum"),
    ],
)
def test_best_match_first(text: str, expected: str) -> None:
    assert names(text)[0] == expected


def test_brand_only_mention_returns_the_brands_products() -> None:
    matches = rank_products("the GlowLab code?", catalog(), 5, today=TODAY)
    assert {m.product.name for m in matches} == {"Vitamin C Serum", "Night Repair Cream"}
    assert {m.matched_on for m in matches} == {"brand"}


@pytest.mark.parametrize("text", ["glowlab", "Glow Lab", "glowlabs", "GLOWLAB!!"])
def test_brand_with_or_without_spaces(text: str) -> None:
    assert "Vitamin C Serum" in names(text)


def test_distinctive_brand_word_alone_is_enough() -> None:
    assert names("Any code for Nordwind?") == ["Regenjacke Fjell"]


def test_scores_between_zero_and_one_sorted_and_limited() -> None:
    matches = rank_products("GlowLab vitamin c serum and night cream", catalog(), 1)
    assert len(matches) == 1
    matches = rank_products("GlowLab vitamin c serum and night cream", catalog(), 5)
    scores = [m.score for m in matches]
    assert scores == sorted(scores, reverse=True)
    assert all(MIN_SCORE <= s <= 1 for s in scores)


def test_exact_name_scores_higher_than_misspelt() -> None:
    exact = rank_products("vitamin c serum", catalog(), 1)[0].score
    misspelt = rank_products("vitamn c seerum", catalog(), 1)[0].score
    assert exact > misspelt >= MIN_SCORE


def test_short_words_must_match_exactly() -> None:
    # "a" must not stand in for the "c" of "Vitamin C": the name is only partly matched.
    with_c = rank_products("vitamin c", catalog(), 1)[0].score
    with_a = rank_products("vitamin a", catalog(), 1)
    assert not with_a or with_a[0].score < with_c


def test_at_equal_scores_the_product_with_a_valid_code_comes_first() -> None:
    old = cooperation(1, ends_on=date(2025, 1, 1))
    new = cooperation(2, ends_on=None)
    candidates = [
        (product(1, old, code_valid_until=date(2025, 1, 1)), old),
        (product(2, new, code_valid_until=None), new),
    ]
    matches = rank_products("vitamin c serum", candidates, 2, today=TODAY)
    assert [m.product.id for m in matches] == [2, 1]


async def test_retrieve_from_the_database(session: AsyncSession) -> None:
    account = await create_account(session)
    other = await create_account(session, external_id="17841400000000002", name="Other")
    glow = await create_cooperation(session, account)
    await create_product(session, glow)
    await create_product(session, glow, name="Night Repair Cream", aliases=[])
    await create_product(session, glow, name="Vitamin C Serum Old", is_active=False)
    foreign = await create_cooperation(session, other)
    await create_product(session, foreign)
    await session.commit()

    matches = await retrieve(
        session, account_id=account.id, text="Code für das Vitamin C Seerum?", today=TODAY
    )

    assert [m.product.name for m in matches][0] == "Vitamin C Serum"
    assert all(m.product.account_id == account.id and m.product.is_active for m in matches)
    assert all(m.cooperation.id == glow.id for m in matches)
    assert await retrieve(session, account_id=account.id, text="hi how are you") == []


async def test_a_warm_index_costs_two_small_queries(session: AsyncSession) -> None:
    account = await create_account(session)
    for brand in ["GlowLab", "Nordwind", "Sol y Mar"]:
        coop = await create_cooperation(session, account, brand=brand)
        for index in range(3):
            await create_product(session, coop, name=f"{brand} product {index}")
    await session.commit()
    session.expunge_all()
    indexes = CatalogIndexes()
    await retrieve(session, account_id=account.id, text="warm up", indexes=indexes)
    statements: list[str] = []

    def count(*args: object) -> None:
        statement = str(args[2])
        if statement.lstrip().upper().startswith("SELECT"):  # not SQLite's BEGIN IMMEDIATE
            statements.append(statement)

    assert session.bind is not None
    sync_engine = session.bind.sync_engine
    event.listen(sync_engine, "before_cursor_execute", count)
    try:
        matches = await retrieve(
            session, account_id=account.id, text="the Nordwind code?", indexes=indexes
        )
    finally:
        event.remove(sync_engine, "before_cursor_execute", count)

    # Only the matched products: the catalog's version was checked less than a second ago.
    assert len(statements) == 1
    assert {m.cooperation.brand for m in matches} == {"Nordwind"}
    # Attributes are loaded: reading them needs no lazy load (which would raise here).
    assert all(m.product.url and m.cooperation.ends_on for m in matches)


async def test_a_cached_index_sees_every_catalog_change(session: AsyncSession) -> None:
    account = await create_account(session)
    coop = await create_cooperation(session, account)
    serum = await create_product(session, coop)
    await session.commit()
    indexes = CatalogIndexes(recheck_seconds=0)

    async def found(text: str) -> list[str]:
        matches = await retrieve(session, account_id=account.id, text=text, indexes=indexes)
        return [m.product.name for m in matches]

    assert await found("vitamin c serum") == ["Vitamin C Serum"]
    assert await found("lip balm") == []
    balm = await create_product(
        session, coop, name="Honey Lip Balm", aliases=[], discount_code=None
    )
    await session.commit()
    assert await found("lip balm") == ["Honey Lip Balm"]
    serum.name = "Retinol Night Serum"
    await session.commit()
    assert await found("retinol serum") == ["Retinol Night Serum"]
    balm.is_active = False
    await session.commit()
    assert await found("lip balm") == []
    await session.delete(serum)
    await session.commit()
    assert await found("retinol serum") == []


def test_a_discount_code_alone_names_its_product() -> None:
    [best, *_] = rank_products("is lena15 still working??", catalog(), 3, today=TODAY)
    assert (best.product.discount_code, best.matched_on, best.score) == ("LENA15", "code", 1.0)


def test_a_follow_up_takes_the_product_of_the_earlier_turns() -> None:
    earlier = ["what's the code for the vitamin c serum?", "Your code: LENA15 (15% off)"]
    matches = rank_in_conversation("and the link?", earlier, catalog(), 3, today=TODAY)
    assert matches
    assert matches[0].product.name == "Vitamin C Serum"
    assert matches[0].matched_on == "conversation"
    assert matches[0].score < 1.0  # less sure than a product named in the message itself
    assert rank_in_conversation("and the link?", [], catalog(), 3, today=TODAY) == []
    named = rank_in_conversation("vitamin c serum link?", ["sunscreen?"], catalog(), 3)
    assert named[0].matched_on != "conversation"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Il siero è adatto alla pelle sensibile?", "Vitamin C Serum"),
        ("Quanto costa la giacca?", "Regenjacke Fjell"),
        ("le sérum de GlowLab", "Vitamin C Serum"),
    ],
)
def test_product_types_in_other_languages(text: str, expected: str) -> None:
    assert names(text)[0] == expected


def test_a_type_word_does_not_drag_in_unrelated_products() -> None:
    # "crème solaire" is one phrase: its "crème" must not make every cream a sunscreen.
    assert names("Le code pour la crème de nuit GlowLab ?")[0] == "Night Repair Cream"
