"""The report's default dates: the cooperation's, up to today, at most 400 days."""

from __future__ import annotations

from datetime import date

import pytest

from app.models import Cooperation
from app.reports.service import BadRange, check_range, default_range

TODAY = date(2026, 12, 7)


@pytest.mark.parametrize(
    ("starts_on", "ends_on", "expected"),
    [
        (date(2026, 11, 1), date(2026, 11, 30), (date(2026, 11, 1), date(2026, 11, 30))),
        (date(2026, 11, 1), date(2027, 3, 1), (date(2026, 11, 1), TODAY)),  # still running
        (None, None, (date(2026, 11, 8), TODAY)),  # no dates: the last 30 days
        (None, date(2026, 10, 31), (date(2026, 10, 2), date(2026, 10, 31))),
        (date(2027, 1, 1), date(2027, 2, 1), (TODAY, TODAY)),  # not begun yet
        (date(2020, 1, 1), None, (date(2025, 11, 3), TODAY)),  # 400 days at most
    ],
)
def test_the_default_range(
    starts_on: date | None, ends_on: date | None, expected: tuple[date, date]
) -> None:
    cooperation = Cooperation(brand="GlowLab", starts_on=starts_on, ends_on=ends_on)
    first, last = default_range(cooperation, TODAY)
    assert (first, last) == expected
    check_range(first, last)


def test_ranges_refused() -> None:
    with pytest.raises(BadRange, match="must not be after"):
        check_range(date(2026, 11, 2), date(2026, 11, 1))
    with pytest.raises(BadRange, match="at most 400 days"):
        check_range(date(2025, 11, 2), TODAY)
    with pytest.raises(BadRange, match="too far"):
        check_range(date.max, date.max)
    check_range(date(2025, 11, 3), TODAY)  # exactly 400 days
