"""Background work as the API shows it: what failed, and why."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from app.deps import CurrentUser, OptionalId, SessionDep
from app.errors import API_ERRORS, Forbidden
from app.models import InboxEvent, Job
from app.users.service import ensure_access, visible_account_ids

router = APIRouter(prefix="/api/v1", tags=["operations"], responses=API_ERRORS)

JobStatus = Annotated[str, Query(pattern="^(queued|running|done|failed)$")]
EventStatus = Annotated[str, Query(pattern="^(queued|running|done|failed|unprocessable)$")]


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    account_id: int | None
    payload: dict[str, Any]
    status: str
    attempts: int
    max_attempts: int
    run_at: datetime
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None


class InboxEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    received_at: datetime
    status: str
    attempts: int
    last_error: str | None
    processed_at: datetime | None


@router.get("/jobs", response_model=list[JobOut])
async def list_jobs(
    session: SessionDep,
    user: CurrentUser,
    status: JobStatus = "failed",
    account_id: OptionalId = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[JobOut]:
    """Drafting and sending jobs; by default the ones parked as failed, with their error."""
    statement = select(Job).where(Job.status == status).order_by(Job.id.desc()).limit(limit)
    if account_id is not None:
        await ensure_access(session, user, account_id)
        statement = statement.where(Job.account_id == account_id)
    else:
        ids = await visible_account_ids(session, user)
        if ids is not None:
            statement = statement.where(Job.account_id.in_(ids))
    return [JobOut.model_validate(j) for j in await session.scalars(statement)]


@router.get("/inbox-events", response_model=list[InboxEventOut])
async def list_inbox_events(
    session: SessionDep,
    user: CurrentUser,
    status: EventStatus = "unprocessable",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[InboxEventOut]:
    """Stored webhook bodies by status (admins only: a body may concern any account)."""
    if user.role != "admin":
        raise Forbidden("only admins may list inbox events")
    statement = (
        select(InboxEvent)
        .where(InboxEvent.status == status)
        .order_by(InboxEvent.id.desc())
        .limit(limit)
    )
    return [InboxEventOut.model_validate(e) for e in await session.scalars(statement)]
