"""A new comment meets the account's triggers: at most one private reply per comment.

Runs in the ingest transaction, for a comment entry stored for the first time (a
redelivered webhook stores nothing and comes nowhere near here). A top-level comment by
someone other than the account that matches an active trigger gets one `comment_replies`
row (unique per account and comment, so a second worker adds nothing) and a
`comment_reply` job that drafts the private reply; or a row that says why it was skipped.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from enum import StrEnum

import structlog

from app.comments import repository
from app.comments.matching import matches
from app.comments.schemas import public_reply_lines
from app.conversations.entries import Incoming
from app.core.clock import utc_now
from app.models import CommentTrigger
from app.policy.schemas import Policy
from app.worker.kinds import JobKind
from app.worker.queue import enqueue

log = structlog.get_logger("app.comments")

# Meta accepts one private reply per comment, within 7 days of it.
PRIVATE_REPLY_WINDOW = timedelta(days=7)


class SkipReason(StrEnum):
    OPTED_OUT = "opted_out"
    TOO_OLD = "too_old"
    MODE_OFF = "mode_off"


def choose_trigger(
    triggers: list[CommentTrigger], text: str, media_id: str | None
) -> CommentTrigger | None:
    """The trigger the comment matches: one for its post wins over one for any post; among
    equals, the oldest."""
    fitting = [
        t
        for t in triggers
        if (t.media_id is None or t.media_id == media_id) and matches(text, t.keywords)
    ]
    fitting.sort(key=lambda t: (t.media_id is None, t.id))
    return fitting[0] if fitting else None


def pick_variant(lines: list[str], previous: str | None, rng: random.Random) -> str | None:
    """One of the public reply's variants, not the one the trigger's previous comment got
    (several identical replies in a row look like spam to people and to Meta)."""
    if not lines:
        return None
    fresh = [line for line in lines if line != previous] or lines
    return rng.choice(fresh)


async def take_comment(incoming: Incoming, message_id: int) -> None:
    """The ingest hook (`Incoming.on_comment`) for a comment stored for the first time."""
    event, session, account = incoming.event, incoming.session, incoming.account
    if not event.comment_id or event.parent_id or event.by_account:
        log.info("comment.not_answerable", reply=bool(event.parent_id), own=event.by_account)
        return
    trigger = choose_trigger(
        await repository.active_triggers(session, account.id), event.text or "", event.media_id
    )
    if trigger is None:
        log.info("comment.no_trigger")
        return
    commented_at = event.timestamp or utc_now()
    skip = _skip_reason(incoming, commented_at)
    public_text = None
    if skip is None:
        previous = await repository.last_public_reply(session, trigger.id)
        public_text = pick_variant(public_reply_lines(trigger.public_reply), previous, _rng)
    reply_id = await repository.insert_reply(
        session,
        {
            "account_id": account.id,
            "conversation_id": incoming.conversation.id,
            "message_id": message_id,
            "trigger_id": trigger.id,
            "comment_id": event.comment_id,
            "media_id": event.media_id,
            "live": event.is_live,
            "commented_at": commented_at,
            "status": "skipped" if skip else "waiting",
            "skip_reason": skip,
            "public_reply_text": public_text,
            "public_reply_status": "waiting" if public_text else None,
        },
    )
    log.info("comment.matched", trigger_id=trigger.id, skipped=skip, row=reply_id)
    if reply_id is None or skip is not None:
        return
    await enqueue(
        session,
        JobKind.COMMENT_REPLY,
        {"comment_reply_id": reply_id},
        dedupe_key=f"comment:{reply_id}",
        account_id=account.id,
        max_attempts=incoming.settings.JOB_MAX_ATTEMPTS,
    )


def _skip_reason(incoming: Incoming, commented_at: datetime) -> SkipReason | None:
    if incoming.contact.opted_out_at is not None:
        return SkipReason.OPTED_OUT
    if Policy.of(incoming.account.policy).mode == "off":
        return SkipReason.MODE_OFF
    if commented_at < utc_now() - PRIVATE_REPLY_WINDOW:
        return SkipReason.TOO_OLD
    return None


_rng = random.Random()
