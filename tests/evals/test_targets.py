"""The evaluation targets, through the production decision path, on every set, in CI.

One test per set and target, so a report names exactly what is missed. The held-out set
is written by someone who never read the rules; its files must be present (a missing set
fails here rather than passing by measuring nothing).
"""

from __future__ import annotations

import asyncio
import functools

import pytest

from evals.dataset import SETS, validate
from evals.evaluate import evaluate
from evals.metrics import FLOORS, TARGETS, Figures, Target, compute
from evals.run import DEFAULT_MODELS, drafter_factories


def _loaded(set_name: str) -> None:
    data = SETS[set_name]
    missing = data.missing()
    if missing:
        pytest.fail(f"set {set_name} is missing: {', '.join(map(str, missing))}")


@functools.cache
def _figures(set_name: str) -> Figures:
    data = SETS[set_name]
    catalog, messages = data.load()
    factories = drafter_factories(DEFAULT_MODELS, catalog, None, None)
    results = evaluate(messages, catalog, factories, data.today, data.account_name)
    return compute(asyncio.run(results))


@pytest.mark.parametrize("set_name", list(SETS))
def test_the_set_is_present_and_its_labels_validate(set_name: str) -> None:
    _loaded(set_name)
    catalog, messages = SETS[set_name].load()
    assert validate(messages, catalog) == []


@pytest.mark.parametrize(
    ("set_name", "target"),
    [(set_name, target) for set_name in SETS for target in TARGETS],
    ids=[f"{set_name}-{target.key}" for set_name in SETS for target in TARGETS],
)
def test_target(set_name: str, target: Target) -> None:
    """Met, or (while FLOORS lists it) no worse than the figure measured before."""
    _loaded(set_name)
    figures = _figures(set_name)
    floor = FLOORS.get((set_name, target.key))
    if floor is None:
        assert target.miss(figures) is None
    else:
        assert target.worse_than(figures, floor) is None
        # A met target must leave FLOORS, so the table cannot hide a regression later.
        assert target.miss(figures) is not None, (
            f"{target.key} is met on {set_name}: drop its floor"
        )
