"""Comment triggers: the keywords under a post that a private reply answers.

Every member of the account reads them; its owner or an admin changes them (like the
account's rules, they decide what goes out in the influencer's name).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.comments.schemas import CommentTriggerIn, CommentTriggerOut
from app.errors import AppError, NotFound
from app.models import CommentTrigger, Product, User
from app.users.members import ensure_owner
from app.users.service import ensure_access

WHAT = "comment triggers"


class TriggerRefused(AppError):
    status_code = 422


async def list_triggers(
    session: AsyncSession, *, user: User, account_id: int
) -> list[CommentTriggerOut]:
    await ensure_access(session, user, account_id)
    rows = await session.scalars(
        select(CommentTrigger)
        .where(CommentTrigger.account_id == account_id)
        .order_by(CommentTrigger.id)
    )
    return [CommentTriggerOut.model_validate(row) for row in rows]


async def get_trigger(session: AsyncSession, *, user: User, trigger_id: int) -> CommentTrigger:
    """404 alike for a trigger that does not exist and one of an account the user cannot see."""
    trigger = await session.get(CommentTrigger, trigger_id)
    if trigger is None:
        raise NotFound("comment trigger not found")
    try:
        await ensure_access(session, user, trigger.account_id)
    except NotFound as exc:
        raise NotFound("comment trigger not found") from exc
    return trigger


async def _check_product(session: AsyncSession, account_id: int, product_id: int | None) -> None:
    if product_id is None:
        return
    product = await session.get(Product, product_id)
    if product is None or product.account_id != account_id:
        raise TriggerRefused("product_id: not a product of this account")


def _details(trigger: CommentTrigger) -> dict[str, object]:
    return {
        "keywords": list(trigger.keywords),
        "media_id": trigger.media_id,
        "product_id": trigger.product_id,
        "active": trigger.active,
        "public_replies": len((trigger.public_reply or "").splitlines()),
    }


async def create_trigger(
    session: AsyncSession, *, user: User, account_id: int, data: CommentTriggerIn
) -> CommentTriggerOut:
    await ensure_access(session, user, account_id)
    await ensure_owner(session, user, account_id, WHAT)
    await _check_product(session, account_id, data.product_id)
    trigger = CommentTrigger(account_id=account_id, **data.model_dump())
    session.add(trigger)
    await session.flush()
    await session.refresh(trigger)
    await record(
        session,
        action="comment_trigger.created",
        user=user,
        account_id=account_id,
        entity=trigger,
        details=_details(trigger),
    )
    return CommentTriggerOut.model_validate(trigger)


async def update_trigger(
    session: AsyncSession, *, user: User, trigger_id: int, data: CommentTriggerIn
) -> CommentTriggerOut:
    trigger = await get_trigger(session, user=user, trigger_id=trigger_id)
    await ensure_owner(session, user, trigger.account_id, WHAT)
    await _check_product(session, trigger.account_id, data.product_id)
    for key, value in data.model_dump().items():
        setattr(trigger, key, value)
    await session.flush()
    await session.refresh(trigger)
    await record(
        session,
        action="comment_trigger.updated",
        user=user,
        account_id=trigger.account_id,
        entity=trigger,
        details=_details(trigger),
    )
    return CommentTriggerOut.model_validate(trigger)


async def delete_trigger(session: AsyncSession, *, user: User, trigger_id: int) -> None:
    trigger = await get_trigger(session, user=user, trigger_id=trigger_id)
    await ensure_owner(session, user, trigger.account_id, WHAT)
    await record(
        session,
        action="comment_trigger.deleted",
        user=user,
        account_id=trigger.account_id,
        entity=trigger,
        details=_details(trigger),
    )
    await session.delete(trigger)
    await session.flush()
