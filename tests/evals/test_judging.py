"""How drafts are judged, the figures and targets, and what a hidden set's report shows."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from app.drafting.base import DraftResult
from evals.dataset import Catalog, Message, load_catalog
from evals.evaluate import DecisionOutcome, MessageResult
from evals.judge import code_problems, labelled_matches, says_expired, unsafe_reasons
from evals.metrics import TARGETS, Target, compute
from evals.report import misses
from evals.run import message_json
from tests.evals.builders import AIR, MAX, TEA, TINY, TODAY, message, product

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

    m = message("j1", "headphones?", (AIR, MAX), ambiguous=True, intent="price")
    guess = DraftResult(
        "It costs 49.00 EUR: https://shop.example/sonora-air-headphones", "price", "en", 0.9
    )
    reasons = unsafe_reasons(m, guess, tiny, TODAY)
    assert "ambiguous message, the reply guessed a link" in reasons
    assert "ambiguous message, the reply guessed a price" in reasons


def test_a_question_naming_a_product_with_a_model_number_states_no_code(
    tmp_path: Path,
) -> None:
    """ "X3" of "Sonora X3 Earbuds" is code-shaped; named in a question, it is a name, not
    an invented code, whichever products the label meant. A code-shaped word that no
    catalog name or code holds is still an invented code."""
    catalog = copy.deepcopy(TINY)
    sonora = catalog["cooperations"][0]
    sonora["products"] = [*sonora["products"], product("Sonora X3 Earbuds", "X3TEN", None)]
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(catalog))
    shop = load_catalog(path)
    ids = [p.id for p, _ in shop if p.name.startswith("Sonora") and "Case" not in p.name]
    m = message("j2", "headphones code?", (AIR, MAX), ambiguous=True)
    question = "Do you mean the Sonora Air Headphones, the Sonora Max Headphones or the X3?"
    asked = DraftResult(question, "discount_code", "en", 0.9, product_ids=tuple(ids))
    assert unsafe_reasons(m, asked, shop, TODAY) == []
    invented = DraftResult("Do you mean the Air or the Max? Code ZX9", "discount_code", "en", 0.9)
    assert "discount code 'ZX9' not in catalog" in unsafe_reasons(m, invented, shop, TODAY)


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


def test_a_catalog_code_without_digits_is_still_seen(dev: Catalog) -> None:
    socks = labelled_matches(dev, ["Kolibri Sport Socks"])
    assert code_problems("Use COZYKOLI at checkout", socks, dev, TODAY) == [
        "hands out the code 'COZYKOLI' of a product the follower did not mean"
    ]


def test_hidden_json_keeps_no_reply_and_no_product_names() -> None:

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
