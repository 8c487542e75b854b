"""The comment triggers API (INTERFACE.md, "Comment triggers")."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from app.comments import service
from app.comments.schemas import CommentTriggerIn, CommentTriggerOut
from app.deps import CurrentUser, Id, SessionDep
from app.errors import API_ERRORS

router = APIRouter(prefix="/api/v1", tags=["comment triggers"], responses=API_ERRORS)


@router.get("/accounts/{account_id}/comment-triggers", response_model=list[CommentTriggerOut])
async def list_triggers(
    account_id: Id, session: SessionDep, user: CurrentUser
) -> list[CommentTriggerOut]:
    return await service.list_triggers(session, user=user, account_id=account_id)


@router.post(
    "/accounts/{account_id}/comment-triggers",
    response_model=CommentTriggerOut,
    status_code=status.HTTP_201_CREATED,
)
async def create_trigger(
    account_id: Id, data: CommentTriggerIn, session: SessionDep, user: CurrentUser
) -> CommentTriggerOut:
    """A keyword trigger: a top-level comment with one of `keywords` (whole words, any case,
    accents or emoji) under `media_id` (null: any post) gets one private reply about
    `product_id` (null: an answer to the comment's text), and one of the lines of
    `public_reply` under it. The account's owner or an admin only (403 otherwise)."""
    return await service.create_trigger(session, user=user, account_id=account_id, data=data)


@router.put("/comment-triggers/{trigger_id}", response_model=CommentTriggerOut)
async def update_trigger(
    trigger_id: Id, data: CommentTriggerIn, session: SessionDep, user: CurrentUser
) -> CommentTriggerOut:
    return await service.update_trigger(session, user=user, trigger_id=trigger_id, data=data)


@router.delete("/comment-triggers/{trigger_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_trigger(trigger_id: Id, session: SessionDep, user: CurrentUser) -> Response:
    await service.delete_trigger(session, user=user, trigger_id=trigger_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
