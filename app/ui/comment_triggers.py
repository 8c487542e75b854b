"""Page: an account's comment triggers ("comment SERUM and I'll send you the code").

Listed for every member; added, changed, switched on or off and deleted by the account's
owner or an admin, through the same service functions as the JSON API (so validation and
the audit log are the same).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from app.accounts import service as accounts
from app.comments import service
from app.comments.schemas import CommentTriggerIn, CommentTriggerOut
from app.deps import Id, SessionDep
from app.errors import AppError, Forbidden, NotFound
from app.models import Account, CommentTrigger, Product, User
from app.ui.catalog_forms import field_errors, optional, split_list, text
from app.users import members
from app.web import CheckedWebUser, WebUser, message_page, not_found_page, page

router = APIRouter(include_in_schema=False)


def _values(trigger: CommentTriggerOut | None) -> dict[str, Any]:
    """A trigger as the form shows it: keywords comma-separated, variants one per line."""
    if trigger is None:
        return {
            "keywords": "",
            "media_id": "",
            "product_id": "",
            "public_reply": "",
            "active": True,
        }
    return {
        "keywords": ", ".join(trigger.keywords),
        "media_id": trigger.media_id or "",
        "product_id": trigger.product_id or "",
        "public_reply": trigger.public_reply or "",
        "active": trigger.active,
    }


def _parse(form: FormData) -> tuple[dict[str, Any], CommentTriggerIn | None, dict[str, str]]:
    product, keywords = text(form, "product_id"), text(form, "keywords")
    shown: dict[str, Any] = {
        "keywords": keywords,
        "media_id": text(form, "media_id"),
        "product_id": product,
        "public_reply": text(form, "public_reply"),
        "active": form.get("active") is not None,
    }
    if product and not (product.isdigit() and len(product) < 19):
        return shown, None, {"product_id": "choose a product from the list"}
    try:
        data = CommentTriggerIn(
            keywords=split_list(keywords),
            media_id=optional(form, "media_id"),
            product_id=int(product) if product else None,
            public_reply=optional(form, "public_reply"),
            active=shown["active"],
        )
    except ValidationError as exc:
        return shown, None, field_errors(exc)
    return shown, data, {}


async def _products(session: AsyncSession, account_id: int) -> list[Product]:
    rows = await session.scalars(
        select(Product).where(Product.account_id == account_id).order_by(Product.name)
    )
    return list(rows.all())


async def _render(
    request: Request,
    session: AsyncSession,
    web_user: tuple[User, Any],
    account: Account,
    *,
    editing: int | None = None,
    shown: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> HTMLResponse:
    user, web_session = web_user
    triggers = await service.list_triggers(session, user=user, account_id=account.id)
    products = await _products(session, account.id)
    return page(
        request,
        "ui/comment_triggers.html",
        status_code=422 if errors else 200,
        user=user,
        csrf_token=web_session.csrf_token,
        nav="accounts",
        account=account,
        triggers=triggers,
        products=products,
        product_names={p.id: p.name for p in products},
        form_values=shown or _values(next((t for t in triggers if t.id == editing), None)),
        editing=editing if any(t.id == editing for t in triggers) else None,
        errors=errors or {},
        can_decide=await members.can_decide(session, user, account.id),
        saved=request.query_params.get("saved", ""),
    )


def _refused(request: Request, user: User, account_id: int, exc: AppError) -> HTMLResponse:
    forbidden = isinstance(exc, Forbidden)
    return message_page(
        request,
        "Only the owner can change this" if forbidden else "Not saved",
        exc.message[:1].upper() + exc.message[1:] + ". Nothing was saved.",
        status_code=exc.status_code,
        link=f"/accounts/{account_id}/comment-triggers",
        link_text="Back to the comment triggers",
        user=user,
    )


@router.get("/accounts/{account_id}/comment-triggers", response_class=HTMLResponse)
async def triggers_page(
    request: Request, account_id: Id, session: SessionDep, web_user: WebUser
) -> Response:
    try:
        account = await accounts.get_account(session, user=web_user[0], account_id=account_id)
    except NotFound:
        return not_found_page(request, web_user[0])
    edit = request.query_params.get("edit", "")
    editing = int(edit) if edit.isdigit() and len(edit) < 19 else None
    return await _render(request, session, web_user, account, editing=editing)


@router.post("/accounts/{account_id}/comment-triggers", response_class=HTMLResponse)
async def add_trigger(
    request: Request, account_id: Id, session: SessionDep, web_user: CheckedWebUser
) -> Response:
    user = web_user[0]
    try:
        account = await accounts.get_account(session, user=user, account_id=account_id)
    except NotFound:
        return not_found_page(request, user)
    shown, data, errors = _parse(await request.form())
    if data is None:
        return await _render(request, session, web_user, account, shown=shown, errors=errors)
    try:
        await service.create_trigger(session, user=user, account_id=account.id, data=data)
    except AppError as exc:
        if isinstance(exc, Forbidden):
            return _refused(request, user, account.id, exc)
        errors = {"product_id": exc.message.removeprefix("product_id: ")}
        return await _render(request, session, web_user, account, shown=shown, errors=errors)
    return RedirectResponse(f"/accounts/{account.id}/comment-triggers?saved=added", 303)


async def _trigger_and_account(
    session: AsyncSession, user: User, trigger_id: int
) -> tuple[CommentTrigger, Account]:
    trigger = await service.get_trigger(session, user=user, trigger_id=trigger_id)
    account = await accounts.get_account(session, user=user, account_id=trigger.account_id)
    return trigger, account


@router.post("/comment-triggers/{trigger_id}", response_class=HTMLResponse)
async def change_trigger(
    request: Request, trigger_id: Id, session: SessionDep, web_user: CheckedWebUser
) -> Response:
    user = web_user[0]
    try:
        trigger, account = await _trigger_and_account(session, user, trigger_id)
    except NotFound:
        return not_found_page(request, user, "comment trigger")
    shown, data, errors = _parse(await request.form())
    if data is None:
        return await _render(
            request, session, web_user, account, editing=trigger.id, shown=shown, errors=errors
        )
    try:
        await service.update_trigger(session, user=user, trigger_id=trigger.id, data=data)
    except AppError as exc:
        if isinstance(exc, Forbidden):
            return _refused(request, user, account.id, exc)
        errors = {"product_id": exc.message.removeprefix("product_id: ")}
        return await _render(
            request, session, web_user, account, editing=trigger.id, shown=shown, errors=errors
        )
    return RedirectResponse(f"/accounts/{account.id}/comment-triggers?saved=changed", 303)


@router.post("/comment-triggers/{trigger_id}/active", response_class=HTMLResponse)
async def toggle_trigger(
    request: Request, trigger_id: Id, session: SessionDep, web_user: CheckedWebUser
) -> Response:
    """Switches a trigger on or off, keeping the rest as it is."""
    user = web_user[0]
    try:
        trigger, account = await _trigger_and_account(session, user, trigger_id)
    except NotFound:
        return not_found_page(request, user, "comment trigger")
    current = CommentTriggerOut.model_validate(trigger)
    data = CommentTriggerIn.model_validate(
        {
            **current.model_dump(include=set(CommentTriggerIn.model_fields)),
            "active": not trigger.active,
        }
    )
    try:
        await service.update_trigger(session, user=user, trigger_id=trigger.id, data=data)
    except AppError as exc:
        return _refused(request, user, account.id, exc)
    state = "on" if data.active else "off"
    return RedirectResponse(f"/accounts/{account.id}/comment-triggers?saved={state}", 303)


@router.post("/comment-triggers/{trigger_id}/delete", response_class=HTMLResponse)
async def delete_trigger(
    request: Request, trigger_id: Id, session: SessionDep, web_user: CheckedWebUser
) -> Response:
    user = web_user[0]
    try:
        _, account = await _trigger_and_account(session, user, trigger_id)
        await service.delete_trigger(session, user=user, trigger_id=trigger_id)
    except NotFound:
        return not_found_page(request, user, "comment trigger")
    except AppError as exc:
        return _refused(request, user, account.id, exc)
    return RedirectResponse(f"/accounts/{account.id}/comment-triggers?saved=deleted", 303)
