from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.deps import CurrentUser, Id, OptionalId, SessionDep, SettingsDep
from app.errors import API_ERRORS
from app.models import DRAFT_STATUSES
from app.moderation import holding, service, stats
from app.moderation.schemas import ApproveIn, DraftOut, RejectIn
from app.moderation.stats import BandStats
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
    edited or rejected them, to choose `min_confidence` and `auto_intents` with evidence."""
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
