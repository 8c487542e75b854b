"""Replies held before they go: an approval waits `UNDO_SECONDS`, an automatic reply the
account's `hold_auto_seconds`, on the server (`outbound_messages.hold_until`, and the send
job's run time), so closing the tab neither loses nor doubles them.

Taking a reply back and sending it are each one conditional statement on the outbound
row's status (`queued`): the send job moves it to `sending` under the row's lock (SELECT
... FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE serialises every writer) and
commits before calling Meta, so whichever commits first wins and the other finds the
row changed: never both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import utc_now
from app.models import Account, Contact, Conversation, Draft, Message, OutboundMessage, SendStatus
from app.outbox import pacing, private_reply


@dataclass(frozen=True, slots=True)
class Held:
    """A reply waiting for its hold to end, as the queue's "about to send" strip shows it:
    with the follower and the message it answers."""

    outbound: OutboundMessage
    draft: Draft
    contact: Contact
    account: Account
    message: Message | None


async def take_back(session: AsyncSession, draft_id: int, *, now: datetime) -> bool:
    """Undo: removes the draft's reply from the outbox if it is still queued and held past
    `now`. True if it was taken back (the send job will find nothing to send)."""
    removed = await session.scalar(
        delete(OutboundMessage)
        .where(
            OutboundMessage.draft_id == draft_id,
            OutboundMessage.status == SendStatus.QUEUED,
            OutboundMessage.hold_until > now,
        )
        .returning(OutboundMessage.id)
        .execution_options(synchronize_session=False)
    )
    return removed is not None


async def cancel_send(session: AsyncSession, draft_id: int) -> bool:
    """Cancel: stops the draft's reply if it is not yet handed to Meta (still `queued`,
    held or waiting its turn). The row stays, `cancelled`, as a record."""
    stopped = await session.scalar(
        update(OutboundMessage)
        .where(OutboundMessage.draft_id == draft_id, OutboundMessage.status == SendStatus.QUEUED)
        .values(
            status=SendStatus.CANCELLED, error_code=SendStatus.CANCELLED.value, updated_at=utc_now()
        )
        .returning(OutboundMessage)
        .execution_options(synchronize_session=False)
    )
    if stopped is None:
        return False
    # A later reply to the same follower waited for this one: it may go now.
    await pacing.wake_next(session, stopped)
    if stopped.comment_id is not None:
        await private_reply.settled(session, stopped)  # no DM, so no public reply
    return True


async def held_replies(
    session: AsyncSession,
    *,
    account_ids: list[int] | None,
    automatic: bool,
    now: datetime,
    approved_by: int | None = None,
) -> list[Held]:
    """Replies still held at `now`, the soonest to go first; `automatic` keeps those the
    bot decided (no moderator approved them), and with `approved_by` also those that user
    approved. `account_ids` None: every account."""
    statement = (
        select(OutboundMessage, Draft, Contact, Account, Message)
        .join(Draft, Draft.id == OutboundMessage.draft_id)
        .join(Conversation, Conversation.id == OutboundMessage.conversation_id)
        .join(Contact, Contact.id == Conversation.contact_id)
        .join(Account, Account.id == OutboundMessage.account_id)
        .outerjoin(Message, Message.id == Draft.reply_to_message_id)
        .where(OutboundMessage.status == SendStatus.QUEUED, OutboundMessage.hold_until > now)
        .order_by(OutboundMessage.hold_until, OutboundMessage.id)
    )
    if automatic:
        by_bot = OutboundMessage.sent_by_user_id.is_(None)
        statement = statement.where(
            by_bot
            if approved_by is None
            else or_(by_bot, OutboundMessage.sent_by_user_id == approved_by)
        )
    if account_ids is not None:
        statement = statement.where(OutboundMessage.account_id.in_(account_ids))
    rows = (await session.execute(statement)).all()
    return [Held(*row) for row in rows]
