"""The one rule for whether a discount code may be handed out today."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from app.catalog.validity import CodeStatus, code_validity

TODAY = date(2026, 10, 1)
JAN, JUN, DEC = date(2026, 1, 1), date(2026, 6, 30), date(2026, 12, 31)
MAR27 = date(2027, 3, 31)


@dataclass
class P:
    discount_code: str | None
    code_valid_until: date | None = None


@dataclass
class C:
    starts_on: date | None = None
    ends_on: date | None = None


@pytest.mark.parametrize(
    ("product", "cooperation", "status", "until"),
    [
        # The code's own date beats the cooperation's end: a campaign that ended while
        # its code stays valid by contract is the common case.
        (P("A", MAR27), C(JAN, JUN), "valid", MAR27),
        (P("A", date(2026, 9, 30)), C(JAN, DEC), "expired", date(2026, 9, 30)),
        (P("A", TODAY), C(), "valid", TODAY),  # valid through its last day
        # No code date: the cooperation's dates decide.
        (P("A"), C(date(2026, 1, 1), date(2026, 6, 30)), "expired", date(2026, 6, 30)),
        (P("A"), C(date(2026, 1, 1), date(2026, 12, 31)), "valid", date(2026, 12, 31)),
        (P("A"), C(date(2026, 1, 1), None), "valid", None),  # ongoing
        # Neither says anything.
        (P("A"), C(), "unknown", None),
        # Not started yet, whatever the code's date.
        (P("A", date(2027, 3, 31)), C(date(2026, 11, 1), None), "not_started", None),
        (P(None, date(2027, 3, 31)), C(), "no_code", None),
        (P(""), C(), "no_code", None),
    ],
)  # fmt: skip
def test_the_rule(product: P, cooperation: C, status: str, until: date | None) -> None:
    validity = code_validity(product, cooperation, TODAY)
    assert validity.status == CodeStatus(status)
    assert validity.until == until
    assert validity.sendable is (status == "valid")


def test_labels_say_where_the_date_comes_from() -> None:
    own = code_validity(P("A", date(2027, 3, 31)), C(None, date(2026, 6, 30)), TODAY)
    assert own.label() == "valid until 2027-03-31"
    coop = code_validity(P("A"), C(None, date(2026, 12, 31)), TODAY)
    assert coop.label() == "valid until 2026-12-31, cooperation's end"
    assert code_validity(P("A"), C(), TODAY).label().startswith("validity unknown")
    assert code_validity(P("A"), C(), TODAY).tone() == "warn"
