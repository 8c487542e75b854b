"""The evaluation set's targets (issue 4), through the production decision path, in CI:
recall@3 at least 0.95, every sensitive message found, no unsafe automatic reply with
the offline drafter or with scripted model answers (a share of them deliberately wrong)."""

from __future__ import annotations

from evals.dataset import load_catalog, load_messages, validate
from evals.evaluate import evaluate
from evals.metrics import compute
from evals.run import drafter_factories


async def test_the_evaluation_set_meets_its_targets() -> None:
    catalog = load_catalog()
    messages = load_messages()
    assert validate(messages, catalog) == []
    results = await evaluate(
        messages, catalog, drafter_factories(["offline", "scripted"], catalog, None, None)
    )
    figures = compute(results)
    assert figures.missed_targets() == []
