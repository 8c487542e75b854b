"""How moderators decided queued drafts, per intent and confidence band: which thresholds
an influencer could safely let the bot send alone."""

from __future__ import annotations

from collections import defaultdict

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Draft

# Upper bounds of the confidence bands; the last band includes 1.0.
BANDS = (0.5, 0.7, 0.8, 0.9, 1.0)
DECIDED = ("approved", "sending", "sent", "failed", "expired", "rejected")
RECENT_LIMIT = 10_000


class BandStats(BaseModel):
    intent: str
    band: str  # "0.80-0.90"
    decided: int
    approved_unchanged: int
    edited: int
    rejected: int
    approved_unchanged_share: float


def band_of(confidence: float) -> str:
    lower = 0.0
    for upper in BANDS:
        if confidence < upper or upper == BANDS[-1]:
            return f"{lower:.2f}-{upper:.2f}"
        lower = upper
    raise AssertionError("unreachable")


def _outcome(draft: Draft) -> str:
    if draft.status == "rejected":
        return "rejected"
    if draft.final_text is not None and draft.final_text.strip() != draft.text.strip():
        return "edited"
    return "approved_unchanged"


async def approval_stats(session: AsyncSession, *, account_id: int) -> list[BandStats]:
    """Drafts a person decided (not the automatic ones), most recent first, grouped."""
    drafts = await session.scalars(
        select(Draft)
        .where(
            Draft.account_id == account_id,
            Draft.decided_by_user_id.is_not(None),
            Draft.status.in_(DECIDED),
        )
        .order_by(Draft.id.desc())
        .limit(RECENT_LIMIT)
    )
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(
        lambda: {"approved_unchanged": 0, "edited": 0, "rejected": 0}
    )
    for draft in drafts:
        counts[(draft.intent, band_of(draft.confidence))][_outcome(draft)] += 1
    return [
        BandStats(
            intent=intent,
            band=band,
            decided=sum(c.values()),
            approved_unchanged_share=round(c["approved_unchanged"] / sum(c.values()), 3),
            **c,
        )
        for (intent, band), c in sorted(counts.items())
    ]
