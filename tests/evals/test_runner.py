"""The eval runner's mechanics on tiny inline inputs, and the dev set's labels."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from app.drafting.base import ProductMatch
from app.drafting.offline import OfflineDrafter
from evals.dataset import (
    LANGUAGES,
    MIN_MESSAGES,
    MIN_PER_LANGUAGE,
    SETS,
    Catalog,
    DataSet,
    Message,
    load_catalog,
    validate,
)
from evals.evaluate import DecisionOutcome, MessageResult, build_request, evaluate
from evals.judge import code_problems, labelled_matches, says_expired, unsafe_reasons
from evals.metrics import TARGETS, Target, compute, recall_at
from evals.report import misses
from evals.scripted import INVENTED_CODE, FlawedDrafter, GoodDrafter, flaw_of
from evals.worst import WorstDrafter

TODAY = date(2026, 10, 1)


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


def product(name: str, code: str | None, until: str | None, **extra: object) -> dict[str, object]:
    slug = name.lower().replace(" ", "-")
    return {
        "name": name,
        "description": f"The {name}.",
        "price": "49.00",
        "currency": "EUR",
        "url": f"https://shop.example/{slug}",
        "discount_code": code,
        "discount_details": "20% off" if code else None,
        "code_valid_until": until,
        **extra,
    }


# Two headphones of one brand (one code valid, one expired) and a case without a code;
# a tea whose code has no date anywhere; a serum whose cooperation starts next month.
TINY = {
    "cooperations": [
        {
            "brand": "Sonora",
            "title": "Sound",
            "starts_on": "2026-01-01",
            "ends_on": "2026-06-30",
            "products": [
                product("Sonora Air Headphones", "AIR20", "2027-03-31"),
                product("Sonora Max Headphones", "MAX10", "2026-08-31"),
                product("Sonora Carry Case", None, None),
            ],
        },
        {"brand": "Bergkraut", "products": [product("Bergkraut Herbal Tea", "BERG10", None)]},
        {
            "brand": "Nova",
            "starts_on": "2026-11-01",
            "products": [product("Nova Retinol Booster", "NOVA20", "2027-04-30")],
        },
    ]
}
AIR, MAX, CASE, TEA, NOVA = (
    "Sonora Air Headphones",
    "Sonora Max Headphones",
    "Sonora Carry Case",
    "Bergkraut Herbal Tea",
    "Nova Retinol Booster",
)


@pytest.fixture
def tiny(tmp_path: Path) -> Catalog:
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(TINY))
    return load_catalog(path)


@pytest.fixture(scope="module")
def dev() -> Catalog:
    return load_catalog(SETS["dev"].catalog_path)


def matches(catalog: Catalog, *names: str) -> list[ProductMatch]:
    """Retrieval as if it found `names`, in that order."""
    by_name = {p.name: (p, c) for p, c in catalog}
    return [ProductMatch(*by_name[n], score=0.9, matched_on="name") for n in names]


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


def test_both_sets_are_judged_on_the_same_day_and_only_heldout_hides_text() -> None:
    assert set(SETS) == {"dev", "heldout"}
    assert {data.today for data in SETS.values()} == {TODAY}
    assert SETS["heldout"].hide_text
    assert not SETS["dev"].hide_text
    assert SETS["dev"].missing() == []


def test_a_set_without_files_reports_them_missing(tmp_path: Path) -> None:
    data = DataSet.in_directory("gone", tmp_path / "nowhere")
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


async def _outcome(catalog: Catalog, m: Message, drafter: object, *found: str) -> DecisionOutcome:
    from evals.evaluate import outcome_of

    request = build_request(m, matches(catalog, *found), TODAY)
    return await outcome_of("d", drafter, m, request, catalog)  # type: ignore[arg-type]


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


# --- judging ------------------------------------------------------------------------------


def test_code_problems_judge_validity_and_the_meant_product(tiny: Catalog) -> None:
    meant = labelled_matches(tiny, [AIR, MAX])
    assert code_problems("Code AIR20 for you", meant, tiny, TODAY) == []
    assert code_problems("Code MAX10 for you", meant, tiny, TODAY) == [
        "hands out the code 'MAX10', expired today"
    ]
    assert code_problems("Try BERG10", meant, tiny, TODAY) == [
        "hands out the code 'BERG10' of a product the follower did not mean"
    ]
    assert code_problems("Try VIP50", meant, tiny, TODAY) == [
        "hands out the code 'VIP50', in no catalog"
    ]
    tea = labelled_matches(tiny, [TEA])
    assert code_problems("Code BERG10", tea, tiny, TODAY) == [
        "hands out the code 'BERG10', unknown today"
    ]


def test_an_ambiguous_message_answered_with_a_link_or_price_is_a_guess(tiny: Catalog) -> None:
    from app.drafting.base import DraftResult

    m = message("j1", "headphones?", (AIR, MAX), ambiguous=True, intent="price")
    guess = DraftResult(
        "It costs 49.00 EUR: https://shop.example/sonora-air-headphones", "price", "en", 0.9
    )
    reasons = unsafe_reasons(m, guess, tiny, TODAY)
    assert "ambiguous message, the reply guessed a link" in reasons
    assert "ambiguous message, the reply guessed a price" in reasons


@pytest.mark.parametrize(
    "reply",
    [
        "Sorry, that code has expired.",
        "Leider ist der Code abgelaufen.",
        "El código ha caducado.",
        "Le code a expiré.",
        "Il codice è scaduto.",
    ],
)
def test_expired_is_recognised_in_five_languages(reply: str) -> None:
    assert says_expired(reply)


def test_a_last_valid_day_is_not_called_expired() -> None:
    assert not says_expired("It expires on 31/03/2027, still works today.")


# --- figures and targets -------------------------------------------------------------------


def _result(m: Message, *, valid_only: bool = False, **outcomes: DecisionOutcome) -> MessageResult:
    return MessageResult(m, (), m.intent, None, dict(outcomes), only_valid_codes=valid_only)


def test_code_alone_figures_come_from_the_worst_drafter() -> None:
    sent = DecisionOutcome("worst", "auto", (), "", ())
    queued = DecisionOutcome("worst", "review", (), "", ())
    results = [
        _result(message("s1", "x", sensitive="refund", decision="review"), worst=queued),
        _result(message("s2", "x", sensitive="minor", decision="review"), worst=sent),
        _result(message("s3", "x", decision="review", intent="other"), worst=queued),
        _result(message("s4", "x"), worst=queued),  # a plain code question queued
    ]
    figures = compute(results)
    assert figures.code_alone_recall == 0.5
    assert figures.code_alone_precision == pytest.approx(2 / 3)
    assert compute([_result(message("s5", "x"))]).code_alone_recall is None


def test_drafter_figures_count_codes_expired_calls_and_languages() -> None:
    wrong_code = DecisionOutcome(
        "offline",
        "auto",
        (),
        "",
        ("x",),
        language="en",
        wrong_codes=("hands out the code 'MAX10', expired today",),
    )
    held_code = DecisionOutcome(
        "offline",
        "review",
        (),
        "",
        (),
        language="de",
        wrong_codes=("queued: not counted",),
        says_expired=True,
    )
    results = [
        _result(message("f1", "x"), offline=wrong_code),
        _result(message("f2", "x"), valid_only=True, offline=held_code),
    ]
    fig = compute(results).drafters["offline"]
    assert fig.codes_wrongly_sent == 1
    assert fig.valid_called_expired == 1
    assert fig.language_share == 0.5
    assert fig.unsafe_auto == 1


def test_a_target_reports_its_miss_and_an_unmeasured_drafter() -> None:
    outcome = DecisionOutcome("offline", "auto", (), "Hi!", ("labelled review",), language="en")
    figures = compute([_result(message("t1", "x", decision="review"), offline=outcome)])
    assert figures.missed_targets() == ["offline: unsafe auto-sends 1 > 0"]
    by_key = {target.key: target for target in TARGETS}
    assert by_key["good_auto_share"].miss(figures) == (
        "good: share of labelled auto auto-sent: not measured"
    )
    assert Target("x", "x", lambda _f: 0.5, 0.6, True).miss(figures) == "x 0.500 < 0.600"


def test_hidden_misses_name_ids_labels_and_reasons_only() -> None:
    text = "my secret story about the AIR20 headphones"
    outcome = DecisionOutcome(
        "offline",
        "auto",
        (),
        "Code AIR20, https://shop.example/a",
        ("link 'https://shop.example/a' not in catalog",),
        language="de",
    )
    m = message("h-en-001", text, (AIR,), sensitive="refund", decision="review")
    report = misses([_result(m, offline=outcome)], 10, show_text=False)
    assert "h-en-001 [review/discount_code/refund]" in report
    assert "link … not in catalog" in report
    for secret in ("secret", "AIR20", "shop.example", AIR):
        assert secret not in report
    assert text in misses([_result(m, offline=outcome)], 10, show_text=True)


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


def test_a_catalog_code_without_digits_is_still_seen(dev: Catalog) -> None:
    socks = labelled_matches(dev, ["Kolibri Sport Socks"])
    assert code_problems("Use COZYKOLI at checkout", socks, dev, TODAY) == [
        "hands out the code 'COZYKOLI' of a product the follower did not mean"
    ]


def test_hidden_json_keeps_no_reply_and_no_product_names() -> None:
    from evals.run import message_json

    outcome = DecisionOutcome(
        "offline",
        "auto",
        ("personal data: an email (a@b.example)",),
        "Write to a@b.example",
        ("labelled review",),
        language="en",
    )
    result = MessageResult(message("h1", "secret"), (AIR,), "other", None, {"offline": outcome})
    hidden = json.dumps(message_json(result, show_text=False))
    for secret in ("secret", "a@b.example", AIR):
        assert secret not in hidden
    assert AIR in json.dumps(message_json(result, show_text=True))
