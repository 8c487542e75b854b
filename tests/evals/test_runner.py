"""The eval runner's mechanics on tiny inline inputs: sets, labels, drafters."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.drafting.base import Drafter
from app.drafting.offline import OfflineDrafter
from evals.dataset import (
    LANGUAGES,
    MIN_MESSAGES,
    MIN_PER_LANGUAGE,
    SETS,
    Catalog,
    DataSet,
    Message,
    validate,
)
from evals.evaluate import DecisionOutcome, build_request, evaluate, outcome_of
from evals.judge import unsafe_reasons
from evals.metrics import compute, recall_at
from evals.scripted import INVENTED_CODE, FlawedDrafter, GoodDrafter, flaw_of
from evals.worst import WorstDrafter
from tests.evals.builders import AIR, CASE, MAX, NOVA, TEA, TODAY, matches, message

# --- sets and labels ------------------------------------------------------------------------


def test_recall_counts_expected_products_in_the_top_k() -> None:
    assert recall_at(["a"], ["a", "b"], 1) == 1.0
    assert recall_at(["a"], ["b", "a"], 1) == 0.0
    assert recall_at(["a"], ["b", "a"], 3) == 1.0
    assert recall_at(["a", "b"], ["a", "c", "d"], 3) == 0.5
    # Four expected, three slots: three found is complete.
    assert recall_at(["a", "b", "c", "d"], ["a", "b", "c"], 3) == 1.0


def test_recall_without_expected_products_rewards_an_empty_retrieval() -> None:
    assert recall_at([], [], 3) == 1.0
    assert recall_at([], ["a"], 3) == 0.0


def test_the_sets_are_judged_on_the_same_day_and_only_heldout_hides_text() -> None:
    assert set(SETS) == {"dev", "devb", "devc", "heldout"}
    assert {data.today for data in SETS.values()} == {TODAY}
    assert SETS["heldout"].hide_text
    assert not SETS["dev"].hide_text
    assert not SETS["devb"].hide_text
    assert not SETS["devc"].hide_text
    assert SETS["dev"].missing() == []
    # Each set's followers write to their own influencer, whose name is no stranger's.
    assert len({data.account_name for data in SETS.values()}) == 4


def test_a_set_without_files_reports_them_missing(tmp_path: Path) -> None:
    data = DataSet.in_directory("gone", tmp_path / "nowhere", account_name="Nobody")
    assert data.missing() == [data.catalog_path, data.messages_path]


def test_the_dev_set_validates(dev: Catalog) -> None:
    _, messages = SETS["dev"].load()
    assert validate(messages, dev) == []
    assert len(messages) >= MIN_MESSAGES
    for language in LANGUAGES:
        assert sum(m.language == language for m in messages) >= MIN_PER_LANGUAGE


def test_validation_reports_unknown_labels(tiny: Catalog) -> None:
    bad = message(
        "b1",
        "hi",
        ("No Such Thing",),
        intent="chat",
        sensitive="rude",
        decision="maybe",
        language="nl",
    )
    assert len(validate([bad], tiny, full=False)) == 6
    assert "b1: duplicate id" in validate([bad, bad], tiny, full=False)


def test_an_ambiguous_label_needs_candidates_and_an_automatic_answer(tiny: Catalog) -> None:
    one = message("a1", "headphones code?", (AIR,), ambiguous=True)
    queued = message("a2", "headphones code?", (AIR, MAX), ambiguous=True, decision="review")
    fine = message("a3", "headphones code?", (AIR, MAX), ambiguous=True)
    assert len(validate([one, queued], tiny, full=False)) == 2
    assert validate([fine], tiny, full=False) == []


# --- the drafters -------------------------------------------------------------------------


async def test_worst_hands_out_the_top_products_code_even_expired(tiny: Catalog) -> None:
    m = message(
        "w1",
        "how are the max headphones?",
        (MAX,),
        intent="other",
        language="de",
        decision="review",
    )
    request = build_request(m, matches(tiny, MAX, AIR), TODAY)
    result = await WorstDrafter(m, tiny).draft(request)
    assert "MAX10" in result.reply
    assert "https://shop.example/sonora-max-headphones" in result.reply
    assert (result.intent, result.confidence, result.needs_human) == ("discount_code", 0.95, False)
    assert result.language == "de"
    assert result.product_ids == (matches(tiny, MAX)[0].product.id,)


async def test_worst_falls_back_to_the_brands_code_then_to_any(tiny: Catalog) -> None:
    m = message("w2", "carry case?", (CASE,))
    case, air = matches(tiny, CASE, AIR)
    result = await WorstDrafter(m, tiny).draft(build_request(m, [case, air], TODAY))
    assert "AIR20" in result.reply
    assert "https://shop.example/sonora-air-headphones" in result.reply
    assert result.product_ids == (case.product.id, air.product.id)
    nothing = await WorstDrafter(m, tiny).draft(build_request(m, [], TODAY))
    assert "AIR20" in nothing.reply  # the catalog's first code
    assert nothing.product_ids == ()


async def test_worst_sends_an_expired_code_and_that_is_counted(tiny: Catalog) -> None:
    m = message("w3", "max headphones code", (MAX,))
    outcome = await _outcome(tiny, m, WorstDrafter(m, tiny), MAX)
    assert outcome.wrong_codes == ("hands out the code 'MAX10', expired today",)


async def _outcome(catalog: Catalog, m: Message, drafter: Drafter, *found: str) -> DecisionOutcome:

    request = build_request(m, matches(catalog, *found), TODAY)
    return await outcome_of("d", drafter, m, request, catalog)


async def test_good_asks_which_one_when_ambiguous(tiny: Catalog) -> None:
    m = message("g1", "headphones code?", (AIR, MAX), ambiguous=True, language="fr")
    result = await GoodDrafter(m, tiny).draft(build_request(m, matches(tiny, AIR, MAX), TODAY))
    assert f"{AIR} ou {MAX}" in result.reply
    for guess in ("AIR20", "MAX10", "https://", "49"):
        assert guess not in result.reply
    assert unsafe_reasons(m, result, tiny, TODAY) == []


@pytest.mark.parametrize(
    ("name", "says", "never", "needs_human"),
    [
        (AIR, "AIR20", "expired", False),
        (MAX, "expired", "MAX10", False),
        (CASE, "no discount code", "20", False),
        (TEA, "Thanks for your message", "BERG10", True),  # no date anywhere: unknown
        (NOVA, "Thanks for your message", "NOVA20", True),  # not started
    ],
)
async def test_good_answers_code_questions_by_the_validity_rule(
    tiny: Catalog, name: str, says: str, never: str, needs_human: bool
) -> None:
    m = message("g2", "code?", (name,))
    result = await GoodDrafter(m, tiny).draft(build_request(m, matches(tiny, name), TODAY))
    assert says in result.reply
    assert never not in result.reply
    assert result.needs_human is needs_human


async def test_a_flawed_invented_code_is_never_auto_sent(dev: Catalog) -> None:
    candidates = [
        message(f"code-{n}", "code for the vitamin c serum?", ("Vitamin C Serum",))
        for n in range(200)
    ]
    flawed = [m for m in candidates if flaw_of(m, dev) == "invented_code"][:5]
    assert flawed, "the flaw share should give some invented codes in 200 ids"
    results = await evaluate(flawed, dev, {"s": lambda m: FlawedDrafter(m, dev)})
    for result in results:
        outcome = result.outcomes["s"]
        assert INVENTED_CODE in outcome.reply
        assert outcome.decision == "review"
        assert any(INVENTED_CODE in reason for reason in outcome.reasons)


async def test_a_good_answer_is_auto_sent(dev: Catalog) -> None:
    good = message("ok-1", "code for the vitamin c serum?", ("Vitamin C Serum",))
    [result] = await evaluate([good], dev, {"s": lambda m: GoodDrafter(m, dev)})
    assert result.outcomes["s"].decision == "auto"
    assert result.outcomes["s"].unsafe == ()


async def test_figures_on_known_inputs(dev: Catalog) -> None:
    messages = [
        message("m1", "code for the vitamin c serum?", ("Vitamin C Serum",)),
        message("m2", "hello!", intent="greeting"),
        message(
            "m3",
            "my package never arrived",
            intent="other",
            sensitive="delivery_problem",
            decision="review",
        ),
    ]
    results = await evaluate(messages, dev, {"offline": lambda _m: OfflineDrafter()})
    figures = compute(results)
    assert figures.messages == 3
    assert figures.recall_at_3 == 1.0
    assert figures.intent_accuracy == 1.0
    assert figures.sensitive_recall == 1.0
    offline = figures.drafters["offline"]
    assert offline.labelled_auto == 2
    assert offline.unsafe_auto == 0
