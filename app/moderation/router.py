from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.accounts.service import get_account
from app.deps import CurrentUser, Id, OptionalId, SessionDep, SettingsDep
from app.errors import API_ERRORS
from app.models import DRAFT_STATUSES
from app.moderation import autonomy, dashboard, holding, marks, service, stats
from app.moderation.dashboard import Dashboard
from app.moderation.schemas import (
    ApproveIn,
    DraftOut,
    MarkIn,
    MarkOut,
    ProposalIn,
    ProposalOut,
    RejectIn,
    SentOut,
)
from app.moderation.stats import BandStats
from app.policy.schemas import Intent, Policy
from app.users.service import ensure_access

router = APIRouter(prefix="/api/v1", tags=["drafts"], responses=API_ERRORS)


@router.get("/drafts", response_model=list[DraftOut])
async def list_drafts(
    session: SessionDep,
    user: CurrentUser,
    status: Annotated[
        str | None, Query(pattern="^(" + "|".join(DRAFT_STATUSES) + ")$")
    ] = "pending",
    account_id: OptionalId = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DraftOut]:
    return await service.list_drafts(
        session, user=user, status=status, account_id=account_id, limit=limit
    )


@router.get("/accounts/{account_id}/approval-stats", response_model=list[BandStats])
async def approval_stats(account_id: Id, session: SessionDep, user: CurrentUser) -> list[BandStats]:
    """Per intent and confidence band: how often moderators approved drafts unchanged,
    edited or rejected them, and how many replies went out without review and were
    marked right or wrong, to choose `min_confidence` and `auto_intents` with evidence."""
    await ensure_access(session, user, account_id)
    return await stats.approval_stats(session, account_id=account_id)


@router.get("/drafts/{draft_id}", response_model=DraftOut)
async def get_draft(draft_id: Id, session: SessionDep, user: CurrentUser) -> DraftOut:
    return await service.draft_out(
        session, await service.get_draft(session, user=user, draft_id=draft_id)
    )


@router.post("/drafts/{draft_id}/approve", response_model=DraftOut)
async def approve(
    draft_id: Id,
    session: SessionDep,
    user: CurrentUser,
    settings: SettingsDep,
    data: ApproveIn | None = None,
) -> DraftOut:
    text = None if data is None else data.text
    return await service.approve(session, settings, user=user, draft_id=draft_id, text=text)


@router.post("/drafts/{draft_id}/reject", response_model=DraftOut)
async def reject(
    draft_id: Id, session: SessionDep, user: CurrentUser, data: RejectIn | None = None
) -> DraftOut:
    reason = None if data is None else data.reason
    return await service.reject(session, user=user, draft_id=draft_id, reason=reason)


@router.post("/drafts/{draft_id}/undo", response_model=DraftOut)
async def undo(draft_id: Id, session: SessionDep, user: CurrentUser) -> DraftOut:
    """Takes an approval back while the reply is held (`UNDO_SECONDS`): the draft is
    `pending` again and nothing is sent. 409 once the reply is sent or on its way."""
    return await holding.undo(session, user=user, draft_id=draft_id)


@router.post("/drafts/{draft_id}/cancel", response_model=DraftOut)
async def cancel(draft_id: Id, session: SessionDep, user: CurrentUser) -> DraftOut:
    """Stops a draft whose reply is held (`hold_auto_seconds`) or not yet handed to Meta:
    `rejected` with `reject_reason` `cancelled`. 409 once it is `sending` or `sent`."""
    return await holding.cancel(session, user=user, draft_id=draft_id)


@router.put("/drafts/{draft_id}/mark", response_model=MarkOut)
async def mark(draft_id: Id, data: MarkIn, session: SessionDep, user: CurrentUser) -> MarkOut:
    """Any member marks a reply the bot sent automatically right or wrong (409 for any
    other draft); marking again changes the mark."""
    found = await marks.mark_draft(
        session, user=user, draft_id=draft_id, mark=data.mark, note=data.note
    )
    return MarkOut.model_validate(found)


@router.delete("/drafts/{draft_id}/mark", status_code=status.HTTP_204_NO_CONTENT)
async def unmark(draft_id: Id, session: SessionDep, user: CurrentUser) -> Response:
    await marks.unmark_draft(session, user=user, draft_id=draft_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/accounts/{account_id}/sent-automatically", response_model=list[SentOut])
async def sent_automatically(
    account_id: Id,
    session: SessionDep,
    user: CurrentUser,
    mark: Annotated[marks.MarkFilter, Query()] = "all",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[SentOut]:
    """Replies sent without review, newest first, with what they answered and their mark."""
    found = await marks.sent_alone_page(
        session, user=user, account_id=account_id, page=page, per_page=per_page, which=mark
    )
    return [
        SentOut(
            draft=DraftOut.model_validate(row.draft),
            follower=row.follower,
            follower_text=row.follower_text,
            products=row.products,
            mark=None if row.mark is None else MarkOut.model_validate(row.mark),
        )
        for row in found.rows
    ]


@router.get("/accounts/{account_id}/dashboard", response_model=Dashboard)
async def account_dashboard(account_id: Id, session: SessionDep, user: CurrentUser) -> Dashboard:
    """Today's figures and the last 30 UTC days of one account."""
    await ensure_access(session, user, account_id)
    return await dashboard.dashboard(session, account_id=account_id)


@router.get("/accounts/{account_id}/proposals", response_model=list[ProposalOut])
async def proposals(account_id: Id, session: SessionDep, user: CurrentUser) -> list[ProposalOut]:
    """Changes of `auto_intents` and `intent_min_confidence` the approval and mark history
    supports; accept one with `POST .../proposals/accept` (owner or admin)."""
    account = await get_account(session, user=user, account_id=account_id)
    found = await autonomy.proposals(
        session, account_id=account.id, policy=Policy.of(account.policy)
    )
    return [_proposal_out(p) for p in found]


@router.post("/accounts/{account_id}/proposals/accept", response_model=Policy)
async def accept_proposal(
    account_id: Id, data: ProposalIn, session: SessionDep, user: CurrentUser
) -> Policy:
    chosen = await autonomy.accept_proposal(
        session, user=user, account_id=account_id, kind=data.kind, intent=data.intent
    )
    return chosen.policy


@router.delete("/accounts/{account_id}/policy/auto-intents/{intent}", response_model=Policy)
async def pause_intent(
    account_id: Id, intent: Intent, session: SessionDep, user: CurrentUser
) -> Policy:
    """Stops sending an intent's answers automatically (owner or admin); audit logged."""
    return await autonomy.pause_intent(session, user=user, account_id=account_id, intent=intent)


def _proposal_out(p: autonomy.Proposal) -> ProposalOut:
    return ProposalOut(
        kind=p.kind,
        intent=p.intent,
        min_confidence=p.min_confidence,
        evidence=p.evidence,
        question=p.question,
        answers_a_day_now=round(p.estimate.before, 2),
        answers_a_day_after=round(p.estimate.after, 2),
    )
