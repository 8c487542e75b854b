"""The approval queue: list drafts, approve (optionally edited) or reject them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.catalog.schemas import ProductOut
from app.catalog.validity import CodeValidity, code_validity
from app.config import Settings
from app.conversations.answered import answered_by_hand
from app.conversations.replies import supersede_pending_drafts
from app.conversations.repository import recent_messages, recent_messages_of
from app.conversations.schemas import MessageOut
from app.conversations.service import get_conversation
from app.core.clock import utc_now
from app.core.fields import storable_text
from app.errors import AppError, Conflict, NotFound
from app.models import (
    Account,
    CommentReply,
    Contact,
    Conversation,
    Cooperation,
    Draft,
    DraftStatus,
    Message,
    OutboundMessage,
    Product,
    SendStatus,
    User,
)
from app.moderation import desk
from app.moderation.desk import QueueQuery
from app.moderation.schemas import DraftOut
from app.outbox import private_reply
from app.outbox.service import queue_reply
from app.policy.schemas import Policy
from app.reports.concerns import concerning
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
    recent = await recent_messages(session, draft.conversation_id, limit=RECENT_MESSAGES)
    out.messages = [MessageOut.model_validate(m) for m in recent]
    abouts = await concerning(session, {draft.conversation_id: (draft.account_id, recent)})
    out.about = abouts.get(draft.conversation_id)
    outbound = await session.scalar(
        select(OutboundMessage).where(OutboundMessage.draft_id == draft.id)
    )
    if outbound is not None:
        out.send_status, out.send_error = outbound.status, outbound.last_error
        if outbound.status == SendStatus.QUEUED and outbound.hold_until is not None:
            out.hold_until = outbound.hold_until
    return out


async def get_draft(session: AsyncSession, *, user: User, draft_id: int) -> Draft:
    draft = await session.get(Draft, draft_id)
    if draft is None:
        raise NotFound("draft not found")
    try:
        await ensure_access(session, user, draft.account_id)
    except NotFound as exc:
        raise NotFound("draft not found") from exc  # as if it did not exist
    return draft


async def _take_pending(
    session: AsyncSession, draft: Draft, status: DraftStatus, user: User
) -> None:
    """Moves a pending draft on, once: a second moderator gets 409, not a second send."""
    result = await session.execute(
        update(Draft)
        .where(Draft.id == draft.id, Draft.status == DraftStatus.PENDING)
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
    _check_storable("the reply", text)
    draft = await get_draft(session, user=user, draft_id=draft_id)
    await _take_pending(session, draft, DraftStatus.APPROVED, user)
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
        hold_seconds=settings.UNDO_SECONDS,
        comment_id=await _comment_of(session, draft),
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


async def _comment_of(session: AsyncSession, draft: Draft) -> str | None:
    """The comment a draft of kind `comment` is the private reply to (None for a DM)."""
    if draft.kind != "comment":
        return None
    reply = await session.scalar(select(CommentReply).where(CommentReply.draft_id == draft.id))
    if reply is None:
        raise Conflict("the comment this draft answers is gone; nothing was sent")
    return reply.comment_id


def _check_storable(what: str, text: str | None) -> None:
    # The API's schemas check this already; the moderator's pages post plain form fields.
    try:
        storable_text(text or "")
    except ValueError as exc:
        raise AppError(f"{what} {exc}", status_code=422) from None


async def reject(
    session: AsyncSession, *, user: User, draft_id: int, reason: str | None
) -> DraftOut:
    _check_storable("the reason", reason)
    draft = await get_draft(session, user=user, draft_id=draft_id)
    await _take_pending(session, draft, DraftStatus.REJECTED, user)
    draft.reject_reason = reason
    if draft.kind == "comment":
        await private_reply.draft_closed(session, draft.id, "the private reply was rejected")
    await record(
        session,
        action="draft.rejected",
        user=user,
        account_id=draft.account_id,
        entity=draft,
        details={"reason": reason, "confidence": draft.confidence, "intent": draft.intent},
    )
    return await draft_out(session, draft)


# The moderator's desk (app/ui): cards of the queue, outcomes of handled drafts, and
# replies written by hand. Read in bulk so a queue of a hundred drafts stays a few queries.

QUEUE_LIMIT = 200
CARD_MESSAGES = 5


@dataclass(slots=True)
class QueueCard:
    draft: Draft
    account: Account
    conversation: Conversation
    contact: Contact
    messages: list[Message]
    products: list[Product]
    # How each product's code stands today, by product id (app.catalog.validity's rule).
    codes: dict[int, CodeValidity]
    # The follower's message the draft answers (else their latest in `messages`).
    question: Message | None = None
    # The confidence this draft's intent needs to go out alone, from the account's rules.
    threshold: float = 0.8
    # "Brand — title": the cooperation a story mention or shared post in it concerns.
    about: str | None = None


@dataclass(slots=True)
class DraftOutcome:
    """What became of a draft that is no longer pending, as a moderator should hear it."""

    draft: Draft
    decided_by: str | None
    send_status: str | None
    # Until then the reply is held and Undo still stops it (app/outbox/hold.py).
    hold_until: datetime | None = None


async def queue_cards(
    session: AsyncSession,
    *,
    user: User,
    account_id: int | None = None,
    after_id: int | None = None,
    limit: int = QUEUE_LIMIT,
    query: QueueQuery | None = None,
) -> list[QueueCard]:
    """Pending drafts the user may see, searched, filtered and sorted as `query` says
    (oldest first by default); with `after_id`, only newer ones."""
    query = query or QueueQuery(account_id=account_id)
    statement = await _pending(session, user, query)
    if after_id is not None:
        statement = statement.where(Draft.id > after_id)
    statement = desk.order(statement, query.sort).limit(limit)
    drafts = list((await session.scalars(statement)).all())
    return await _cards(session, drafts)


async def queue_count(session: AsyncSession, *, user: User, query: QueueQuery) -> int:
    """How many pending drafts `query` matches (the list itself is capped)."""
    statement = await _pending(session, user, query, select(func.count(Draft.id)))
    return int(await session.scalar(statement) or 0)


async def _pending(
    session: AsyncSession, user: User, query: QueueQuery, columns: Any = None
) -> Any:
    base: Any = select(Draft) if columns is None else columns
    statement: Any = base.where(Draft.status == DraftStatus.PENDING)
    if query.account_id is not None:
        await ensure_access(session, user, query.account_id)
        statement = statement.where(Draft.account_id == query.account_id)
    else:
        ids = await visible_account_ids(session, user)
        if ids is not None:
            statement = statement.where(Draft.account_id.in_(ids))
    return desk.apply(statement, query)


@dataclass(slots=True)
class DeskOptions:
    """What the desk's filters offer: the languages and products of the waiting drafts."""

    languages: list[str]
    products: list[Product]


async def desk_options(session: AsyncSession, *, user: User, account_id: int | None) -> DeskOptions:
    statement = await _pending(
        session, user, QueueQuery(account_id=account_id), select(Draft.language, Draft.product_ids)
    )
    rows = (await session.execute(statement.limit(5000))).all()
    languages = sorted({language for language, _ in rows})
    ids = {int(p) for _, products in rows for p in products if isinstance(p, int)}
    products = sorted((await _by_id(session, Product, ids)).values(), key=lambda p: p.name)
    return DeskOptions(languages=languages, products=products)


async def queue_card(session: AsyncSession, *, user: User, draft_id: int) -> QueueCard:
    draft = await get_draft(session, user=user, draft_id=draft_id)
    return (await _cards(session, [draft]))[0]


_Row = TypeVar("_Row", Account, Contact, Conversation, Cooperation, Message, Product, User)


async def _by_id(session: AsyncSession, model: type[_Row], ids: set[int]) -> dict[int, _Row]:
    if not ids:
        return {}
    rows = await session.scalars(select(model).where(model.id.in_(ids)))
    return {row.id: row for row in rows}


async def _cards(session: AsyncSession, drafts: list[Draft]) -> list[QueueCard]:
    conversations = await _by_id(session, Conversation, {d.conversation_id for d in drafts})
    contacts = await _by_id(session, Contact, {c.contact_id for c in conversations.values()})
    accounts = await _by_id(session, Account, {d.account_id for d in drafts})
    products = await _by_id(
        session, Product, {int(p) for d in drafts for p in d.product_ids if isinstance(p, int)}
    )
    cooperations = await _by_id(
        session, Cooperation, {product.cooperation_id for product in products.values()}
    )
    today = utc_now().date()
    codes = {
        pid: code_validity(product, cooperations[product.cooperation_id], today)
        for pid, product in products.items()
    }
    recent = await recent_messages_of(session, set(conversations), limit=CARD_MESSAGES)
    abouts = await concerning(
        session, {cid: (c.account_id, recent[cid]) for cid, c in conversations.items()}
    )
    # A private reply answers its comment, however much was written since.
    comments = await _by_id(
        session,
        Message,
        {d.reply_to_message_id for d in drafts if d.kind == "comment" and d.reply_to_message_id},
    )
    cards = []
    for draft in drafts:
        conversation = conversations[draft.conversation_id]
        cards.append(
            QueueCard(
                draft=draft,
                account=accounts[draft.account_id],
                conversation=conversation,
                contact=contacts[conversation.contact_id],
                messages=recent[conversation.id],
                products=[products[p] for p in draft.product_ids if p in products],
                codes=codes,
                question=comments.get(draft.reply_to_message_id or 0)
                or _question(draft, recent[conversation.id]),
                threshold=Policy.of(accounts[draft.account_id].policy).threshold(draft.intent),
                about=abouts.get(conversation.id),
            )
        )
    return cards


def _question(draft: Draft, messages: list[Message]) -> Message | None:
    inbound = [m for m in messages if m.direction == "in" and m.text]
    answered = next((m for m in inbound if m.id == draft.reply_to_message_id), None)
    return answered or (inbound[-1] if inbound else None)


async def draft_outcome(session: AsyncSession, *, user: User, draft_id: int) -> DraftOutcome:
    draft = await get_draft(session, user=user, draft_id=draft_id)
    return (await _outcomes(session, [draft]))[0]


async def handled_since_shown(
    session: AsyncSession, *, user: User, draft_ids: list[int]
) -> list[DraftOutcome]:
    """Of the drafts a moderator has on screen, those someone (or something) has handled."""
    if not draft_ids:
        return []
    statement = select(Draft).where(Draft.id.in_(draft_ids), Draft.status != DraftStatus.PENDING)
    ids = await visible_account_ids(session, user)
    if ids is not None:
        statement = statement.where(Draft.account_id.in_(ids))
    return await _outcomes(session, list((await session.scalars(statement)).all()))


async def _outcomes(session: AsyncSession, drafts: list[Draft]) -> list[DraftOutcome]:
    users = await _by_id(
        session, User, {d.decided_by_user_id for d in drafts if d.decided_by_user_id is not None}
    )
    sends = await session.scalars(
        select(OutboundMessage).where(OutboundMessage.draft_id.in_([d.id for d in drafts]))
    )
    by_draft = {o.draft_id: o for o in sends}
    now = utc_now()
    return [
        DraftOutcome(
            draft=d,
            decided_by=users[d.decided_by_user_id].email if d.decided_by_user_id in users else None,
            send_status=by_draft[d.id].status if d.id in by_draft else None,
            hold_until=_held_until(by_draft.get(d.id), now),
        )
        for d in drafts
    ]


def _held_until(outbound: OutboundMessage | None, now: datetime) -> datetime | None:
    if outbound is None or outbound.status != SendStatus.QUEUED or outbound.hold_until is None:
        return None
    return outbound.hold_until if outbound.hold_until > now else None


async def reply_by_hand(
    session: AsyncSession, settings: Settings, *, user: User, conversation_id: int, text: str
) -> OutboundMessage:
    """A moderator's own reply: the same outbound queue (and, at send time, the same
    window rules) as an approved draft, recorded in the audit log like an approval."""
    _check_storable("the reply", text)
    conversation = await get_conversation(session, user=user, conversation_id=conversation_id)
    final = text.strip()
    if not final:
        raise AppError("write a reply first", status_code=422)
    account = await session.get(Account, conversation.account_id)
    assert account is not None
    outbound = await queue_reply(
        session, settings, account=account, conversation=conversation, text=final, user=user
    )
    # The person answered what they could see: a draft still waiting would be a second reply.
    await answered_by_hand(session, conversation.id)
    await supersede_pending_drafts(
        session, conversation.id, reason=f"answered by hand by {user.email}"
    )
    await record(
        session,
        action="conversation.manual_reply",
        user=user,
        account_id=account.id,
        entity=outbound,
        details={"conversation_id": conversation.id, "length": len(final)},
    )
    return outbound
