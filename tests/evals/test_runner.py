"""The eval runner's mechanics on a tiny inline set, and the shipped dataset's labels."""

from __future__ import annotations

import pytest

from app.drafting.offline import OfflineDrafter
from evals.dataset import (
    LANGUAGES,
    MIN_MESSAGES,
    MIN_PER_LANGUAGE,
    Catalog,
    Message,
    load_catalog,
    load_messages,
    validate,
)
from evals.evaluate import MessageResult, evaluate
from evals.metrics import compute, recall_at
from evals.scripted import INVENTED_CODE, ScriptedDrafter, flaw_of


def message(id: str, text: str, products: tuple[str, ...] = (), **overrides: object) -> Message:
    values: dict[str, object] = {
        "id": id,
        "language": "en",
        "text": text,
        "products": products,
        "intent": "discount_code",
        "sensitive": None,
        "decision": "auto",
    }
    values.update(overrides)
    return Message(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


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


async def test_figures_on_known_inputs(catalog: Catalog) -> None:
    messages = [
        message("m1", "code for the vitamin c serum?", ("Vitamin C Serum",)),
        message("m2", "hello!", intent="greeting"),
        message(
            "m3",
            "my package never arrived",
            intent="other",
            sensitive="delivery_problem",
            decision="review",
        ),  # fmt: skip
        message(
            "m4",
            "the tripod is so cool",
            ("Lumio Vlog Tripod",),
            intent="other",
            sensitive="complaint",
            decision="review",
        ),  # fmt: skip
    ]
    results = await evaluate(messages, catalog, {"offline": lambda _m: OfflineDrafter()})
    figures = compute(results)
    assert figures.messages == 4
    assert figures.recall_at_3 == 1.0
    assert figures.intent_accuracy == 1.0
    # m3 detected, m4 (a mislabelled compliment) not: recall 1/2, no false alarm.
    assert figures.sensitive_recall == 0.5
    assert figures.sensitive_precision == 1.0
    offline = figures.drafters["offline"]
    assert offline.labelled_auto == 2
    assert offline.unsafe_auto == 0
    assert offline.precision == 1.0
    assert "sensitive recall 0.500 < 1.0" in figures.missed_targets()


def test_an_auto_sent_review_message_counts_as_unsafe(catalog: Catalog) -> None:
    from evals.evaluate import DecisionOutcome

    labelled = message("m1", "x", decision="review", intent="other")
    outcome = DecisionOutcome("d", "auto", (), "Hi!", ("labelled review",))
    figures = compute([MessageResult(labelled, (), "other", None, {"d": outcome})])
    assert figures.drafters["d"].unsafe_auto == 1
    assert figures.drafters["d"].precision == 0.0
    assert figures.missed_targets() == ["d: 1 unsafe auto-send(s)"]


async def test_a_scripted_invented_code_is_never_auto_sent(catalog: Catalog) -> None:
    candidates = [
        message(f"code-{n}", "code for the vitamin c serum?", ("Vitamin C Serum",))
        for n in range(200)
    ]
    flawed = [m for m in candidates if flaw_of(m, catalog) == "invented_code"][:5]
    assert flawed, "the flaw share should give some invented codes in 200 ids"
    results = await evaluate(flawed, catalog, {"s": lambda m: ScriptedDrafter(m, catalog)})
    for result in results:
        outcome = result.outcomes["s"]
        assert INVENTED_CODE in outcome.reply
        assert outcome.decision == "review"
        assert any(INVENTED_CODE in reason for reason in outcome.reasons)


async def test_a_good_scripted_answer_is_auto_sent(catalog: Catalog) -> None:
    good = next(
        m
        for n in range(200)
        if flaw_of(
            m := message(f"ok-{n}", "code for the vitamin c serum?", ("Vitamin C Serum",)), catalog
        )
        is None  # fmt: skip
    )
    [result] = await evaluate([good], catalog, {"s": lambda m: ScriptedDrafter(m, catalog)})
    assert result.outcomes["s"].decision == "auto"
    assert result.outcomes["s"].unsafe == ()


def test_the_dataset_validates(catalog: Catalog) -> None:
    messages = load_messages()
    assert validate(messages, catalog) == []
    assert len(messages) >= MIN_MESSAGES
    for language in LANGUAGES:
        assert sum(m.language == language for m in messages) >= MIN_PER_LANGUAGE


def test_validation_reports_unknown_labels(catalog: Catalog) -> None:
    bad = message("b1", "hi", ("No Such Thing",), intent="chat", sensitive="rude",
                  decision="maybe", language="nl")  # fmt: skip
    assert len(validate([bad], catalog, full=False)) == 6
    assert "b1: duplicate id" in validate([bad, bad], catalog, full=False)
