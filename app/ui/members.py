"""The settings page's "People with access" buttons: keep a suspended member, remove a
member, hand the account to another member. The owner's or an admin's, through the same
service functions as the JSON API (so the checks and the audit are the same)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.deps import Id, SessionDep
from app.errors import AppError
from app.models import User
from app.users import members
from app.web import CheckedWebUser, message_page

router = APIRouter(include_in_schema=False)

Change = Callable[..., Awaitable[None]]
_TITLES = {403: "Only the owner can change this", 404: "Not found"}


async def _apply(
    request: Request,
    session: AsyncSession,
    user: User,
    change: Change,
    account_id: int,
    user_id: int,
) -> Response:
    try:
        await change(session, actor=user, account_id=account_id, user_id=user_id)
    except AppError as exc:
        return message_page(
            request,
            _TITLES.get(exc.status_code, "Not changed"),
            exc.message[:1].upper() + exc.message[1:] + ".",
            status_code=exc.status_code,
            link=f"/accounts/{account_id}/settings#members" if exc.status_code != 404 else "/",
            link_text="Back",
            user=user,
        )
    return RedirectResponse(f"/accounts/{account_id}/settings?saved=1#members", status_code=303)


@router.post("/accounts/{account_id}/members/{user_id}/keep")
async def keep(
    request: Request, account_id: Id, user_id: Id, session: SessionDep, web_user: CheckedWebUser
) -> Response:
    return await _apply(request, session, web_user[0], members.keep_member, account_id, user_id)


@router.post("/accounts/{account_id}/members/{user_id}/remove")
async def remove(
    request: Request, account_id: Id, user_id: Id, session: SessionDep, web_user: CheckedWebUser
) -> Response:
    return await _apply(request, session, web_user[0], members.remove_member, account_id, user_id)


@router.post("/accounts/{account_id}/members/{user_id}/owner")
async def make_owner(
    request: Request, account_id: Id, user_id: Id, session: SessionDep, web_user: CheckedWebUser
) -> Response:
    return await _apply(request, session, web_user[0], members.hand_over, account_id, user_id)
