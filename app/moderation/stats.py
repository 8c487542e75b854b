"""How moderators decided queued drafts, and how people marked what the bot sent alone,
per intent and confidence band: which thresholds an influencer could safely let the bot
send alone, and which it should not have."""

from __future__ import annotations

from collections import defaultdict

from pydantic import BaseModel
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Draft, DraftStatus, ReplyMark
from app.moderation.marks import sent_alone

# Upper bounds of the confidence bands; the last band includes 1.0.
BANDS = (0.5, 0.7, 0.8, 0.9, 1.0)
DECIDED = tuple(s for s in DraftStatus if s not in (DraftStatus.PENDING, DraftStatus.SUPERSEDED))
RECENT_LIMIT = 10_000


class BandStats(BaseModel):
    intent: str
    band: str  # "0.80-0.90"
    decided: int
    approved_unchanged: int
    edited: int
    rejected: int
    approved_unchanged_share: float  # of `decided`; 0 when nobody decided one
    auto_sent: int = 0  # sent without review
    marked_right: int = 0
    marked_wrong: int = 0


def band_of(confidence: float) -> str:
    lower = 0.0
    for upper in BANDS:
        if confidence < upper or upper == BANDS[-1]:
            return f"{lower:.2f}-{upper:.2f}"
        lower = upper
    raise AssertionError("unreachable")


def _outcome(status: DraftStatus, text: str, final_text: str | None) -> str:
    if status == DraftStatus.REJECTED:
        return "rejected"
    if final_text is not None and final_text.strip() != text.strip():
        return "edited"
    return "approved_unchanged"


_COUNTS = ("approved_unchanged", "edited", "rejected", "auto_sent", "marked_right", "marked_wrong")


async def approval_stats(session: AsyncSession, *, account_id: int) -> list[BandStats]:
    """Drafts a person decided and replies sent alone, most recent first, grouped."""
    rows = await session.execute(
        select(
            Draft.intent,
            Draft.confidence,
            Draft.status,
            Draft.text,
            Draft.final_text,
            Draft.decided_by_user_id,
            ReplyMark.mark,
        )
        .outerjoin(ReplyMark, ReplyMark.draft_id == Draft.id)
        .where(
            Draft.account_id == account_id,
            or_(
                Draft.decided_by_user_id.is_not(None) & Draft.status.in_(DECIDED),
                sent_alone(),
            ),
        )
        .order_by(Draft.id.desc())
        .limit(RECENT_LIMIT)
    )
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(_COUNTS, 0))
    for intent, confidence, status, text, final_text, decided_by, mark in rows:
        row = counts[(intent, band_of(confidence))]
        if decided_by is not None:
            row[_outcome(status, text, final_text)] += 1
        else:
            row["auto_sent"] += 1
            if mark is not None:
                row[f"marked_{mark}"] += 1
    return [_band(intent, band, c) for (intent, band), c in sorted(counts.items())]


def _band(intent: str, band: str, c: dict[str, int]) -> BandStats:
    decided = c["approved_unchanged"] + c["edited"] + c["rejected"]
    share = round(c["approved_unchanged"] / decided, 3) if decided else 0.0
    return BandStats(intent=intent, band=band, decided=decided, approved_unchanged_share=share, **c)
