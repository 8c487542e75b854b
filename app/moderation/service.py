"""The approval queue: list drafts, approve (optionally edited) or reject them."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.catalog.schemas import ProductOut
from app.config import Settings
from app.conversations.schemas import MessageOut
from app.core.clock import utc_now
from app.errors import Conflict, NotFound
from app.models import Account, Conversation, Draft, Message, OutboundMessage, Product, User
from app.moderation.schemas import DraftOut
from app.outbox.service import queue_reply
from app.users.service import ensure_access, visible_account_ids

RECENT_MESSAGES = 10


async def list_drafts(
    session: AsyncSession, *, user: User, status: str | None, account_id: int | None, limit: int
) -> list[DraftOut]:
    statement = select(Draft).order_by(Draft.created_at, Draft.id).limit(limit)
    if status is not None:
        statement = statement.where(Draft.status == status)
    if account_id is not None:
        await ensure_access(session, user, account_id)
        statement = statement.where(Draft.account_id == account_id)
    else:
        ids = await visible_account_ids(session, user)
        if ids is not None:
            statement = statement.where(Draft.account_id.in_(ids))
    drafts = list((await session.scalars(statement)).all())
    return [await draft_out(session, d) for d in drafts]


async def draft_out(session: AsyncSession, draft: Draft) -> DraftOut:
    out = DraftOut.model_validate(draft)
    if draft.product_ids:
        products = await session.scalars(select(Product).where(Product.id.in_(draft.product_ids)))
        out.products = [ProductOut.model_validate(p) for p in products]
    messages = await session.scalars(
        select(Message)
        .where(Message.conversation_id == draft.conversation_id)
        .order_by(Message.sent_at.desc(), Message.id.desc())
        .limit(RECENT_MESSAGES)
    )
    out.messages = [MessageOut.model_validate(m) for m in reversed(messages.all())]
    outbound = await session.scalar(
        select(OutboundMessage).where(OutboundMessage.draft_id == draft.id)
    )
    if outbound is not None:
        out.send_status, out.send_error = outbound.status, outbound.last_error
    return out


async def get_draft(session: AsyncSession, *, user: User, draft_id: int) -> Draft:
    draft = await session.get(Draft, draft_id)
    if draft is None:
        raise NotFound("draft not found")
    await ensure_access(session, user, draft.account_id)
    return draft


async def _take_pending(session: AsyncSession, draft: Draft, status: str, user: User) -> None:
    """Moves a pending draft on, once: a second moderator gets 409, not a second send."""
    result = await session.execute(
        update(Draft)
        .where(Draft.id == draft.id, Draft.status == "pending")
        .values(
            status=status, decided_by_user_id=user.id, decided_at=utc_now(), updated_at=utc_now()
        )
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        await session.refresh(draft)
        raise Conflict(f"draft is {draft.status} already; nothing was sent")
    await session.refresh(draft)


async def approve(
    session: AsyncSession, settings: Settings, *, user: User, draft_id: int, text: str | None
) -> DraftOut:
    draft = await get_draft(session, user=user, draft_id=draft_id)
    await _take_pending(session, draft, "approved", user)
    final = text.strip() if text and text.strip() else draft.text
    draft.final_text = final
    account = await session.get(Account, draft.account_id)
    conversation = await session.get(Conversation, draft.conversation_id)
    assert account is not None
    assert conversation is not None
    await queue_reply(
        session,
        settings,
        account=account,
        conversation=conversation,
        text=final,
        draft=draft,
        user=user,
    )
    await record(
        session,
        action="draft.approved_edited" if final != draft.text else "draft.approved",
        user=user,
        account_id=draft.account_id,
        entity=draft,
        details={"confidence": draft.confidence, "intent": draft.intent},
    )
    return await draft_out(session, draft)


async def reject(
    session: AsyncSession, *, user: User, draft_id: int, reason: str | None
) -> DraftOut:
    draft = await get_draft(session, user=user, draft_id=draft_id)
    await _take_pending(session, draft, "rejected", user)
    draft.reject_reason = reason
    await record(
        session,
        action="draft.rejected",
        user=user,
        account_id=draft.account_id,
        entity=draft,
        details={"reason": reason, "confidence": draft.confidence, "intent": draft.intent},
    )
    return await draft_out(session, draft)
