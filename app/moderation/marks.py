"""What the bot sent alone, and whether a person found it right: one mark per draft,
changeable by any member of the account, every change in the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.core.clock import utc_now
from app.errors import Conflict
from app.models import SENT_ALONE, Contact, Conversation, Draft, Message, Product, ReplyMark, User
from app.moderation.service import get_draft
from app.users.service import ensure_access

MarkFilter = Literal["all", "unmarked", "right", "wrong"]


# An automatic reply: the rules let it out, nobody decided it, and it was handed to the
# outbox (a failed or expired send never reached the follower, so there is nothing to judge).
def sent_alone() -> ColumnElement[bool]:
    return and_(
        Draft.decision == "auto",
        Draft.decided_by_user_id.is_(None),
        Draft.status.in_(SENT_ALONE),
    )


def is_sent_alone(draft: Draft) -> bool:
    return (
        draft.decision == "auto" and draft.decided_by_user_id is None and draft.status in SENT_ALONE
    )


async def mark_draft(
    session: AsyncSession, *, user: User, draft_id: int, mark: str, note: str | None
) -> ReplyMark:
    draft = await get_draft(session, user=user, draft_id=draft_id)
    if not is_sent_alone(draft):
        raise Conflict("only a reply the bot sent automatically can be marked right or wrong")
    existing = await session.scalar(select(ReplyMark).where(ReplyMark.draft_id == draft.id))
    previous = None if existing is None else existing.mark
    if existing is None:
        existing = ReplyMark(draft_id=draft.id, account_id=draft.account_id)
        session.add(existing)
    existing.mark, existing.note = mark, note or None
    existing.marked_by_user_id, existing.marked_at = user.id, utc_now()
    await session.flush()
    await record(
        session,
        action="draft.marked",
        user=user,
        account_id=draft.account_id,
        entity=draft,
        details={"mark": mark, "previous": previous, "intent": draft.intent, "note": note},
    )
    return existing


async def unmark_draft(session: AsyncSession, *, user: User, draft_id: int) -> None:
    draft = await get_draft(session, user=user, draft_id=draft_id)
    existing = await session.scalar(select(ReplyMark).where(ReplyMark.draft_id == draft.id))
    if existing is None:
        return
    await session.delete(existing)
    await record(
        session,
        action="draft.unmarked",
        user=user,
        account_id=draft.account_id,
        entity=draft,
        details={"previous": existing.mark},
    )


@dataclass(frozen=True)
class SentRow:
    draft: Draft
    follower: str
    follower_text: str | None
    products: list[str]
    mark: ReplyMark | None
    marked_by: str | None = None  # the e-mail of who marked it

    @property
    def reply(self) -> str:
        return self.draft.final_text or self.draft.text

    @property
    def sent_at(self) -> datetime:
        return self.draft.decided_at or self.draft.created_at


@dataclass(frozen=True)
class SentPage:
    rows: list[SentRow]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _mark_filter(which: MarkFilter) -> ColumnElement[bool] | None:
    if which == "unmarked":
        return ReplyMark.id.is_(None)
    if which in ("right", "wrong"):
        return ReplyMark.mark == which
    return None


async def _product_names(session: AsyncSession, drafts: list[Draft]) -> dict[int, str]:
    ids = {int(pid) for d in drafts for pid in d.product_ids if isinstance(pid, int)}
    if not ids:
        return {}
    rows = await session.execute(select(Product.id, Product.name).where(Product.id.in_(ids)))
    return {int(pid): str(name) for pid, name in rows}


async def sent_alone_page(
    session: AsyncSession,
    *,
    user: User,
    account_id: int,
    page: int = 1,
    per_page: int = 20,
    which: MarkFilter = "all",
) -> SentPage:
    """The account's automatic replies, newest first, with what they answered."""
    await ensure_access(session, user, account_id)
    # The ids first, on drafts (and marks) alone, through ix_drafts_account_id_decision_id;
    # then the page's 20 rows with what they answered.
    ids = select(Draft.id).where(Draft.account_id == account_id, sent_alone())
    condition = _mark_filter(which)
    if condition is not None:
        ids = ids.outerjoin(ReplyMark, ReplyMark.draft_id == Draft.id).where(condition)
    total = await session.scalar(select(func.count()).select_from(ids.subquery())) or 0
    chosen = list(
        await session.scalars(
            ids.order_by(Draft.id.desc()).offset((page - 1) * per_page).limit(per_page)
        )
    )
    result = await session.execute(
        select(Draft, ReplyMark, Contact, Message.text, User.email)
        .join(Conversation, Conversation.id == Draft.conversation_id)
        .join(Contact, Contact.id == Conversation.contact_id)
        .outerjoin(ReplyMark, ReplyMark.draft_id == Draft.id)
        .outerjoin(User, User.id == ReplyMark.marked_by_user_id)
        .outerjoin(Message, Message.id == Draft.reply_to_message_id)
        .where(Draft.id.in_(chosen))
        .order_by(Draft.id.desc())
    )
    found = list(result.all())
    names = await _product_names(session, [draft for draft, *_ in found])
    rows = [
        SentRow(
            draft=draft,
            follower=_follower(contact),
            follower_text=text,
            products=[names[p] for p in draft.product_ids if p in names],
            mark=mark,
            marked_by=email,
        )
        for draft, mark, contact, text, email in found
    ]
    return SentPage(rows=rows, total=int(total), page=page, per_page=per_page)


def _follower(contact: Contact) -> str:
    if contact.username and contact.name:
        return f"{contact.name} (@{contact.username})"
    if contact.username:
        return f"@{contact.username}"
    return contact.name or contact.external_id
