"""What drafting costs: the estimated price of an LLM call and each account's daily budget.

The cost is an estimate from the tokens the server reported and the prices an operator
sets (`LLM_INPUT_USD_PER_MTOK`, `LLM_OUTPUT_USD_PER_MTOK`); the bill comes from the
provider. The budget is checked before each draft against what the account's drafts
recorded since midnight UTC, so concurrent drafts may overshoot it by a few calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.drafting.base import Usage
from app.models import Account, Draft
from app.policy.service import LLM_BUDGET_ERROR

MILLION = Decimal(1_000_000)
CENT_FRACTIONS = Decimal("0.000001")  # the column keeps six decimals


def estimate_cost(settings: Settings, usage: Usage) -> Decimal:
    """US dollars for one call, rounded to the stored precision."""
    cost = (
        Decimal(usage.prompt_tokens) * Decimal(str(settings.LLM_INPUT_USD_PER_MTOK))
        + Decimal(usage.completion_tokens) * Decimal(str(settings.LLM_OUTPUT_USD_PER_MTOK))
    ) / MILLION
    return cost.quantize(CENT_FRACTIONS)


def daily_budget(settings: Settings, account: Account) -> Decimal | None:
    """The account's own budget, else the operator's default; None = no limit."""
    if account.daily_llm_budget_usd is not None:
        return Decimal(account.daily_llm_budget_usd)
    if settings.LLM_DAILY_BUDGET_USD is not None:
        return Decimal(str(settings.LLM_DAILY_BUDGET_USD))
    return None


async def spent_today(session: AsyncSession, account_id: int, now: datetime) -> Decimal:
    midnight = datetime.combine(now.date(), time(0), tzinfo=now.tzinfo)
    total = await session.scalar(
        select(func.coalesce(func.sum(Draft.llm_cost_usd), 0)).where(
            Draft.account_id == account_id, Draft.created_at >= midnight
        )
    )
    return Decimal(total or 0)


@dataclass(frozen=True, slots=True)
class BudgetState:
    spent: Decimal
    budget: Decimal | None

    @property
    def exhausted(self) -> bool:
        return self.budget is not None and self.spent >= self.budget

    def reason(self) -> str:
        return f"{LLM_BUDGET_ERROR} (${self.spent:.2f} of ${self.budget:.2f})"


async def budget_state(
    session: AsyncSession, settings: Settings, account: Account, now: datetime
) -> BudgetState:
    budget = daily_budget(settings, account)
    if budget is None:
        return BudgetState(Decimal(0), None)  # no limit: no need to sum anything
    return BudgetState(await spent_today(session, account.id, now), budget)
