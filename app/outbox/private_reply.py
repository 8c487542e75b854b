"""Private replies to comments: what replaces the 24-hour window for an outbound row with a
`comment_id`, Meta's hourly cap, and what a settled private reply means for the public
reply under the comment.

A private reply needs no open window (the commenter may never have written to the
account) and opens none: Meta allows one per comment, within 7 days of it. It is one
message: if the text was split into several parts, none is sent (see `refusal`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.core.clock import as_utc, utc_now
from app.models import CommentReply, OutboundMessage, SendStatus
from app.worker.kinds import JobKind
from app.worker.queue import enqueue
from app.worker.runner import Postpone

log = structlog.get_logger("app.outbox")

# Meta: one private reply per comment, within 7 days of it.
PRIVATE_REPLY_WINDOW = timedelta(days=7)
# Live comments may be answered only "during the broadcast" (Meta's words). We do not see
# the broadcast end, so we take Instagram's longest Live, 4 hours, from the comment.
LIVE_REPLY_WINDOW = timedelta(hours=4)
# Meta's cap: 750 private replies per account and hour (posts, reels). On Live it is 100
# per second, which the account's send pace (SEND_RATE_PER_ACCOUNT) stays under anyway.
# A module constant so tests can lower it.
PRIVATE_REPLIES_PER_HOUR = 750
CAP_PERIOD = timedelta(hours=1)
# A cap full only of replies still being sent (no sent_at yet): look again this soon.
CAP_RECHECK_SECONDS = 1.0

Refusal = tuple[SendStatus, str, str]  # status, error_code, why
# Failures after which the private reply may still go: Meta's echo may prove it arrived
# (outcome_unknown), or reconnecting the account queues it again (the account's, not the
# message's problem: app.accounts.linking.REQUEUE_ERROR_CODES). Its public reply waits.
MAY_STILL_GO = frozenset(
    {"outcome_unknown", "token_invalid", "account_needs_reconnect", "account_disconnected"}
)


async def comment_of(session: AsyncSession, outbound: OutboundMessage) -> CommentReply | None:
    return await session.scalar(
        select(CommentReply).where(
            CommentReply.account_id == outbound.account_id,
            CommentReply.comment_id == outbound.comment_id,
        )
    )


async def refusal(session: AsyncSession, outbound: OutboundMessage) -> Refusal | None:
    """Why this private reply may not go (status to settle, error_code, detail), or None.

    Several parts: sending only the first would drop what follows (often the link or the
    code, which the reports would then count as sent), joining them exceeds the length
    Meta refuses, and the rest cannot follow as DMs (a private reply opens no window).
    So nothing goes and a person sees why."""
    comment = await comment_of(session, outbound)
    if comment is None:
        return SendStatus.FAILED, "comment_unknown", "no record of the comment this reply answers"
    if await _other_reply(session, outbound):
        return SendStatus.FAILED, "already_replied", "this comment already has its private reply"
    limit = LIVE_REPLY_WINDOW if comment.live else PRIVATE_REPLY_WINDOW
    if utc_now() - as_utc(comment.commented_at) > limit:
        when = "after the live broadcast" if comment.live else "more than 7 days after it"
        return SendStatus.EXPIRED, "comment_too_old", f"a private reply must go {when}: too late"
    if len(outbound.parts) - outbound.parts_sent > 1:
        log.warning("outbox.private_reply_too_long", parts=len(outbound.parts))
        return (
            SendStatus.FAILED,
            "too_long_for_private_reply",
            f"a private reply is one message; this text needs {len(outbound.parts)}",
        )
    return None


async def _other_reply(session: AsyncSession, outbound: OutboundMessage) -> bool:
    """Another row for the same comment already went out, or may have: Meta allows one."""
    found = await session.scalar(
        select(OutboundMessage.id)
        .where(
            OutboundMessage.account_id == outbound.account_id,
            OutboundMessage.comment_id == outbound.comment_id,
            OutboundMessage.id != outbound.id,
            OutboundMessage.status.in_((SendStatus.SENDING, SendStatus.SENT)),
        )
        .limit(1)
    )
    return found is not None


async def take_cap_slot(session: AsyncSession, outbound: OutboundMessage) -> None:
    """Postpones `outbound` while the account sent `PRIVATE_REPLIES_PER_HOUR` private
    replies in the last hour, until the oldest of them is an hour old; those waiting wake
    one after another in the order they were queued. The account must be locked (it is,
    by the send job), so every process counts the same replies."""
    now = utc_now()
    since = now - CAP_PERIOD
    private = (
        OutboundMessage.account_id == outbound.account_id,
        OutboundMessage.comment_id.is_not(None),
    )
    sent, oldest = (
        await session.execute(
            select(func.count(), func.min(OutboundMessage.sent_at)).where(
                *private, OutboundMessage.status == SendStatus.SENT, OutboundMessage.sent_at > since
            )
        )
    ).one()
    in_flight = await session.scalar(
        select(func.count()).where(*private, OutboundMessage.status == SendStatus.SENDING)
    )
    if int(sent or 0) + int(in_flight or 0) < PRIVATE_REPLIES_PER_HOUR:
        return
    ahead = await session.scalar(
        select(func.count()).where(
            *private, OutboundMessage.status == SendStatus.QUEUED, OutboundMessage.id < outbound.id
        )
    )
    free_at: datetime = (
        as_utc(oldest) + CAP_PERIOD
        if oldest is not None
        else now + timedelta(seconds=CAP_RECHECK_SECONDS)
    )
    log.info("outbox.private_reply_cap", sent=sent, in_flight=in_flight, ahead=ahead)
    raise Postpone(
        f"{PRIVATE_REPLIES_PER_HOUR} private replies in the last hour (Meta's cap)",
        until=free_at + timedelta(seconds=CAP_RECHECK_SECONDS) * int(ahead or 0),
    )


async def settled(session: AsyncSession, outbound: OutboundMessage) -> None:
    """The private reply reached its final state: its public reply (if one waits) is
    posted now that the DM really went, or skipped (a public "we sent you a DM" under
    the comment would be untrue). If it may still go (`MAY_STILL_GO`), the public reply
    keeps waiting."""
    comment = await comment_of(session, outbound)
    if comment is None or comment.public_reply_status != "waiting":
        return
    if outbound.status == SendStatus.FAILED and outbound.error_code in MAY_STILL_GO:
        return
    if outbound.status == SendStatus.SENT and comment.public_reply_text:
        await enqueue(
            session,
            JobKind.PUBLIC_REPLY,
            {"comment_reply_id": comment.id},
            dedupe_key=f"{JobKind.PUBLIC_REPLY}:{comment.id}",
            account_id=comment.account_id,
        )
        return
    reason = f"the private reply was not sent ({outbound.error_code or outbound.status})"
    await skip_public_reply(session, comment, reason)


async def draft_closed(session: AsyncSession, draft_id: int, reason: str) -> None:
    """A comment's draft was rejected or cancelled before any reply was queued: no DM
    goes, so no public reply either."""
    comment = await session.scalar(
        select(CommentReply).where(
            CommentReply.draft_id == draft_id, CommentReply.public_reply_status == "waiting"
        )
    )
    if comment is not None:
        await skip_public_reply(session, comment, reason)


async def skip_public_reply(session: AsyncSession, comment: CommentReply, reason: str) -> None:
    comment.public_reply_status = "skipped"
    comment.public_reply_error = reason
    await record(
        session,
        action="comment.public_reply_skipped",
        actor="bot",
        account_id=comment.account_id,
        entity=comment,
        details={"comment_id": comment.comment_id, "reason": reason},
    )
