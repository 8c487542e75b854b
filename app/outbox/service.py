"""The outbound queue: every reply, automatic or approved, goes out through here, once."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.clock import utc_now
from app.errors import AppError
from app.meta.limits import TextTooLong, split_text
from app.models import Account, Conversation, Draft, OutboundMessage, SendStatus, User
from app.outbox.compose import Outgoing, compose
from app.worker.kinds import JobKind
from app.worker.queue import enqueue

# Posts the public reply under a comment once its private reply is sent (app/comments/public.py).
# Meta's standard messaging window: a reply may go out as RESPONSE up to 24 hours after
# the follower's last message (their own timestamp: when they wrote it).
MESSAGING_WINDOW = timedelta(hours=24)
# Meta's Human Agent tag: a person may answer up to 7 days after the follower's message.
HUMAN_AGENT_WINDOW = timedelta(days=7)
# Sending first: a drafted reply should not wait behind the drafting of newer messages.
SEND_PRIORITY = 1


class ReplyRefused(AppError):
    status_code = 422


def channel_for(settings: Settings) -> str:
    return "sandbox" if settings.sandbox else "graph"


async def queue_reply(
    session: AsyncSession,
    settings: Settings,
    *,
    account: Account,
    conversation: Conversation,
    text: str,
    draft: Draft | None = None,
    user: User | None = None,
    hold_seconds: float = 0.0,
    comment_id: str | None = None,
    language: str | None = None,
    idempotency_key: str | None = None,
) -> OutboundMessage:
    """Writes the reply and its send job in the caller's transaction. The job starts after
    `hold_seconds` (Undo, or the account's hold of automatic replies: app/outbox/hold.py).
    With `comment_id` it goes out as the private reply to that comment. Without a draft,
    `language` is the reply's (for the disclosure line) and `idempotency_key` names it."""
    outgoing = await compose(
        session,
        settings,
        account=account,
        conversation=conversation,
        text=text,
        draft=draft,
        user=user,
        language=language,
    )
    return await queue_composed(
        session,
        settings,
        outgoing,
        account=account,
        conversation=conversation,
        draft=draft,
        user=user,
        hold_seconds=hold_seconds,
        comment_id=comment_id,
        idempotency_key=idempotency_key,
    )


async def queue_composed(
    session: AsyncSession,
    settings: Settings,
    outgoing: Outgoing,
    *,
    account: Account,
    conversation: Conversation,
    draft: Draft | None = None,
    user: User | None = None,
    hold_seconds: float = 0.0,
    comment_id: str | None = None,
    idempotency_key: str | None = None,
) -> OutboundMessage:
    """`queue_reply` for a reply composed already (`app.outbox.compose`)."""
    key = f"draft:{draft.id}" if draft is not None else f"manual:{uuid.uuid4().hex}"
    outbound = new_outbound(
        settings,
        outgoing,
        account=account,
        conversation=conversation,
        hold_seconds=hold_seconds,
        draft=draft,
        user=user,
        comment_id=comment_id,
        idempotency_key=idempotency_key or key,
    )
    session.add(outbound)
    await session.flush()
    await enqueue(
        session,
        JobKind.SEND_REPLY,
        {"outbound_id": outbound.id},
        run_at=outbound.hold_until,
        account_id=account.id,
        max_attempts=settings.JOB_MAX_ATTEMPTS,
        priority=SEND_PRIORITY,
    )
    return outbound


def new_outbound(
    settings: Settings,
    outgoing: Outgoing,
    *,
    account: Account,
    conversation: Conversation,
    hold_seconds: float,
    draft: Draft | None = None,
    user: User | None = None,
    comment_id: str | None = None,
    idempotency_key: str | None = None,
) -> OutboundMessage:
    """The queued outbound row of a composed reply (not added to the session). Raises
    `ReplyRefused` when the reply cannot be split into messages for the platform."""
    try:
        parts = split_text(outgoing.text, account.platform)
    except TextTooLong as exc:
        raise ReplyRefused(f"reply too long for {account.platform}: {exc}") from exc
    except ValueError as exc:
        raise ReplyRefused(f"reply cannot be sent: {exc}") from exc
    return OutboundMessage(
        account_id=account.id,
        conversation_id=conversation.id,
        draft_id=None if draft is None else draft.id,
        idempotency_key=idempotency_key,
        channel=channel_for(settings),
        status=SendStatus.QUEUED,
        parts=parts,
        parts_sent=0,
        external_ids=[],
        messaging_type="RESPONSE",
        attempts=0,
        sent_by_user_id=None if user is None else user.id,
        hold_until=utc_now() + timedelta(seconds=hold_seconds),
        comment_id=comment_id,
        codes_sent=outgoing.codes_sent,
        links_sent=outgoing.links_sent,
        disclosed=outgoing.disclosed,
    )
