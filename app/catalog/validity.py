"""Whether a product's discount code may be handed out today: the one rule.

Retrieval, the prompt, the offline drafter, the guardrails, the queue card and the
catalog pages all ask this module, so a code is never "valid" on one page and "expired"
in a reply.

The rule, strongest fact first:

1. The code's own date (`code_valid_until`): valid through that day. A campaign often
   ends while its code stays valid by contract, so this beats the cooperation's end.
2. Without a code date, the cooperation's dates: valid from `starts_on` through
   `ends_on`; no `ends_on` means the cooperation is ongoing.
3. Neither says anything: the validity is unknown, and the code never goes out alone.

A cooperation that has not started yet holds its codes back in every case: the code
cannot be live before the campaign is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Protocol


class CodeStatus(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    NOT_STARTED = "not_started"
    UNKNOWN = "unknown"  # no date anywhere: nobody can say whether it still works
    NO_CODE = "no_code"


class HasCode(Protocol):
    @property
    def discount_code(self) -> str | None: ...

    @property
    def code_valid_until(self) -> date | None: ...


class HasDates(Protocol):
    @property
    def starts_on(self) -> date | None: ...

    @property
    def ends_on(self) -> date | None: ...


@dataclass(frozen=True, slots=True)
class CodeValidity:
    status: CodeStatus
    until: date | None = None  # the last valid day, when one is known
    starts: date | None = None  # the first valid day, for NOT_STARTED
    from_code_date: bool = False  # `until` is the code's own date, not the cooperation's

    @property
    def sendable(self) -> bool:
        """The code may appear in a reply that goes out without a person."""
        return self.status is CodeStatus.VALID

    def label(self) -> str:
        """How a person reads it, on the catalog pages and the queue card."""
        if self.status is CodeStatus.VALID:
            if self.until is None:
                return "valid (ongoing cooperation)"
            source = "" if self.from_code_date else ", cooperation's end"
            return f"valid until {self.until.isoformat()}{source}"
        if self.status is CodeStatus.EXPIRED:
            return f"expired on {_iso(self.until)}"
        if self.status is CodeStatus.NOT_STARTED:
            return f"valid from {_iso(self.starts)}"
        if self.status is CodeStatus.UNKNOWN:
            return "validity unknown: add a code date"
        return "no code"

    def tone(self) -> str:
        """The badge class: ok, bad, warn, or none."""
        return {
            CodeStatus.VALID: "ok",
            CodeStatus.EXPIRED: "bad",
            CodeStatus.NOT_STARTED: "warn",
            CodeStatus.UNKNOWN: "warn",
        }.get(self.status, "")


def _iso(day: date | None) -> str:
    return day.isoformat() if day is not None else "?"


def code_validity(product: HasCode, cooperation: HasDates, today: date) -> CodeValidity:
    """How `product`'s code stands on `today` (see the module's rule)."""
    return validity_of(
        product.discount_code,
        product.code_valid_until,
        starts_on=cooperation.starts_on,
        ends_on=cooperation.ends_on,
        today=today,
    )


def validity_of(
    code: str | None,
    code_valid_until: date | None,
    *,
    starts_on: date | None,
    ends_on: date | None,
    today: date,
) -> CodeValidity:
    """The rule on plain values, for callers that hold a product's fields detached."""
    if not code:
        return CodeValidity(CodeStatus.NO_CODE)
    if starts_on is not None and starts_on > today:
        return CodeValidity(CodeStatus.NOT_STARTED, starts=starts_on)
    if code_valid_until is not None:
        status = CodeStatus.EXPIRED if code_valid_until < today else CodeStatus.VALID
        return CodeValidity(status, until=code_valid_until, from_code_date=True)
    if ends_on is not None:
        return CodeValidity(
            CodeStatus.EXPIRED if ends_on < today else CodeStatus.VALID, until=ends_on
        )
    if starts_on is not None:
        return CodeValidity(CodeStatus.VALID)
    return CodeValidity(CodeStatus.UNKNOWN)
