"""When the fault suite counts the service as drained, and as recovered after a fault
(bench/faultsuite/sampling.py, figures.py): per-second samples in, a verdict out."""

from __future__ import annotations

from typing import Any

from bench.faultsuite.figures import settled
from bench.faultsuite.sampling import drained


def sample(t: float, backlog: int = 0, **kw: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "t": t,
        "backlog": backlog,
        "oldest_waiting_s": 0.0,
        "db_ok": True,
        "events_waiting": 0,
        "jobs_waiting": {},
    }
    values.update(kw)
    return values


def test_drained_takes_three_quiet_samples_in_a_row() -> None:
    quiet = [sample(t) for t in range(3)]
    assert drained(quiet)
    assert not drained(quiet[:2])
    assert drained([sample(0, backlog=4), *quiet])


def test_anything_waiting_in_the_last_three_samples_is_not_drained() -> None:
    for busy in (
        sample(2, backlog=1),
        sample(2, events_waiting=1),
        sample(2, jobs_waiting={"send_reply": 1}),
        sample(2, db_ok=False),  # the database did not answer: nothing is known
        {k: v for k, v in sample(2).items() if k != "events_waiting"},
    ):
        assert not drained([sample(0), sample(1), busy]), busy


def test_queues_with_zero_counts_are_drained() -> None:
    assert drained([sample(t, jobs_waiting={"draft_reply": 0}) for t in range(3)])


def young(s: dict[str, Any]) -> bool:
    return bool(s["oldest_waiting_s"] <= 5)


def test_settled_is_the_start_of_the_last_stretch_that_holds_to_the_end() -> None:
    ages = [30, 4, 9, 3, 2, 1]
    after = [sample(t, oldest_waiting_s=age) for t, age in enumerate(ages, 10)]
    assert settled(after, young) == 13


def test_settled_is_none_when_it_does_not_hold_at_the_end() -> None:
    after = [sample(t, oldest_waiting_s=age) for t, age in enumerate([1, 2, 8], 10)]
    assert settled(after, young) is None
    assert settled([], young) is None


def test_samples_without_the_database_neither_break_nor_start_a_stretch() -> None:
    after = [
        sample(10, oldest_waiting_s=1),
        sample(11, oldest_waiting_s=60, db_ok=False),  # a restart: the age is not known
        sample(12, oldest_waiting_s=2),
    ]
    assert settled(after, young) == 10
    late = [sample(10, oldest_waiting_s=60), sample(11, db_ok=False), sample(12)]
    assert settled(late, young) == 12
