"""Scheduling, superseding and withdrawing the replies a conversation is waiting for."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.clock import utc_now
from app.models import (
    Account,
    Conversation,
    Draft,
    DraftStatus,
    Message,
    OutboundMessage,
    SendStatus,
)
from app.policy.schemas import Policy
from app.worker.kinds import JobKind
from app.worker.queue import enqueue


async def schedule_reply(
    session: AsyncSession,
    settings: Settings,
    *,
    account: Account,
    conversation: Conversation,
    standby: bool,
    supersede_reason: str | None = "newer follower message",
) -> None:
    """Queues the (debounced) draft job; the drafter decides whether anything is unanswered."""
    if Policy.of(account.policy).mode == "off":
        return
    if supersede_reason is not None:
        # A newer follower message makes any waiting draft for this conversation stale.
        await supersede_pending_drafts(session, conversation.id, reason=supersede_reason)
    await enqueue(
        session,
        JobKind.DRAFT_REPLY,
        {"conversation_id": conversation.id, "standby": standby},
        run_at=utc_now() + timedelta(seconds=settings.REPLY_DEBOUNCE_SECONDS),
        dedupe_key=f"draft:{conversation.id}",
        account_id=account.id,
        max_attempts=settings.JOB_MAX_ATTEMPTS,
    )


async def supersede_pending_drafts(
    session: AsyncSession, conversation_id: int, *, reason: str
) -> None:
    await session.execute(
        update(Draft)
        .where(
            Draft.conversation_id == conversation_id,
            Draft.status == DraftStatus.PENDING,
            # A private reply to a comment answers the comment: a DM does not replace it.
            Draft.kind == "dm",
        )
        .values(status=DraftStatus.SUPERSEDED, reject_reason=reason, updated_at=utc_now())
        .execution_options(synchronize_session=False)
    )


async def withdraw_replies(
    session: AsyncSession,
    conversation_id: int,
    *,
    reason: str,
    error_code: str,
    since_message: Message | None = None,
    pending: bool = True,
) -> int:
    """Stops replies that are not out yet; returns how many drafts were withdrawn.

    Concerns the drafts written after `since_message` arrived (all, without it): pending
    ones are superseded with `reason`; automatic replies still queued in the outbox are
    marked failed with `error_code`, which the send job respects. A moderator's approved
    reply and a send already under way are left alone. A superseded draft no longer counts
    as the answer to its message, so the drafter may draft for that message afresh.
    """
    statement = select(Draft).where(
        Draft.conversation_id == conversation_id,
        Draft.status.in_(
            (DraftStatus.PENDING, DraftStatus.APPROVED) if pending else (DraftStatus.APPROVED,)
        ),
        Draft.decided_by_user_id.is_(None),
        Draft.kind == "dm",
    )
    if since_message is not None:
        statement = statement.where(Draft.reply_to_message_id >= since_message.id)
    withdrawn = 0
    for draft in (await session.scalars(statement)).all():
        if draft.status == DraftStatus.APPROVED and not await _stop_queued_send(
            session, draft, reason=reason, error_code=error_code
        ):
            continue
        draft.status, draft.reject_reason = DraftStatus.SUPERSEDED, reason
        withdrawn += 1
    return withdrawn


async def _stop_queued_send(
    session: AsyncSession, draft: Draft, *, reason: str, error_code: str
) -> bool:
    # Conditional on `queued`: if the send job has moved it to `sending`, it is too late.
    result = await session.execute(
        update(OutboundMessage)
        .where(
            OutboundMessage.draft_id == draft.id,
            OutboundMessage.status == SendStatus.QUEUED,
            OutboundMessage.sent_by_user_id.is_(None),
        )
        .values(
            status=SendStatus.FAILED, error_code=error_code, last_error=reason, updated_at=utc_now()
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# A short message the bot sends outside drafting (app/outbox/notices.py): the answer to
# STOP or START, or the thanks for a story mention.
class Notice(StrEnum):
    OPTED_OUT = "opted_out"  # the confirmation of STOP
    OPTED_IN = "opted_in"  # the confirmation of START
    STORY_THANKS = "story_thanks"  # thanks for mentioning the account in a story


async def schedule_notice(
    session: AsyncSession,
    settings: Settings,
    *,
    account: Account,
    conversation: Conversation,
    notice: Notice,
    message_id: int,
    language: str,
) -> None:
    await enqueue(
        session,
        JobKind.SEND_NOTICE,
        {
            "conversation_id": conversation.id,
            "notice": notice.value,
            "message_id": message_id,
            "language": language,
        },
        account_id=account.id,
        max_attempts=settings.JOB_MAX_ATTEMPTS,
        priority=1,  # like a send: the follower is waiting for it
    )
