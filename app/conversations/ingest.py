"""Turns Meta events into contacts, conversations and messages, and schedules replies.

Runs in the worker, one transaction per stored webhook body. Every step is idempotent:
redelivered bodies and repeated message ids are stored once and answered at most once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.conversations import events, repository
from app.conversations.answered import answered_by_hand
from app.conversations.entries import (
    CommentHook,
    Incoming,
    entry_values,
    insert_entry,
    note_inbound,
    quote_of,
)
from app.conversations.mentions import apply_story_mention
from app.conversations.optout import apply_command
from app.conversations.profiles import refresh_profile_if_due
from app.conversations.replies import schedule_reply, supersede_pending_drafts
from app.core.clock import utc_now
from app.meta.events import ANNOTATION_KINDS, MetaEvent
from app.models import Account, Contact, Conversation
from app.policy.schemas import Policy
from app.worker.kinds import JobKind
from app.worker.queue import enqueue

log = structlog.get_logger("app.conversations")

__all__ = ["OUR_METADATA_PREFIX", "apply_event"]

OUR_METADATA_PREFIX = "inboxpilot:"
# What the follower said and expects an answer to (a referral alone does not).
FOLLOWER_KINDS = {"message", "postback", "unsupported"}
# Inputs that open the 24-hour window (an m.me/ig.me ref link does, meta-platform.md §6)
# and give consent to read the follower's profile.
INPUT_KINDS = FOLLOWER_KINDS | {"referral"}


async def apply_event(
    session: AsyncSession,
    settings: Settings,
    event: MetaEvent,
    *,
    inbox_event_id: int,
    on_comment: CommentHook | None = None,
) -> None:
    account = await repository.account_by_external_id(
        session, event.platform, event.account_external_id
    )
    if account is None:
        log.info("ingest.unknown_account", platform=event.platform, kind=event.kind)
        return
    structlog.contextvars.bind_contextvars(account_id=account.id)
    if event.kind == "policy":
        await events.apply_policy(session, account, event)
        return
    if event.follower_id is None:
        if event.kind == "unknown":
            events.log_unknown_once(event)
        log.info("ingest.no_follower", kind=event.kind)
        return
    thread = await _thread(session, account, event.kind, event.follower_id)
    if thread is None:
        return
    contact, conversation = thread
    structlog.contextvars.bind_contextvars(conversation_id=conversation.id)
    incoming = Incoming(
        session, settings, account, contact, conversation, event, inbox_event_id, on_comment
    )
    await _HANDLERS.get(event.kind, _apply_follower_event)(incoming)


async def _thread(
    session: AsyncSession, account: Account, kind: str, follower_id: str
) -> tuple[Contact, Conversation] | None:
    """The follower's contact and conversation, created on their first event; None for a
    receipt or a reaction from someone we have no thread with: nothing to mark, and no
    empty conversation to create (the raw event stays in the inbox)."""
    if kind in ANNOTATION_KINDS:
        found = await repository.find_conversation(session, account.id, follower_id)
        if found is None:
            log.info("ingest.unknown_follower", kind=kind)
        return found
    contact = await repository.get_or_create_contact(session, account.id, follower_id)
    conversation = await repository.get_or_create_conversation(session, account.id, contact.id)
    return contact, conversation


async def _apply_follower_event(incoming: Incoming) -> None:
    """Messages, postbacks, referrals, optins, comments: one entry each."""
    event = incoming.event
    values = entry_values(incoming)
    if event.reply_to_mid:
        replied = await repository.message_by_mid(
            incoming.session, incoming.account.id, event.reply_to_mid
        )
        if replied is not None and replied.deleted_at is None:
            values["payload"]["reply_to"] = quote_of(replied)
    message_id = await repository.insert_message(incoming.session, values)
    if message_id is None:
        log.info("ingest.duplicate_message", kind=event.kind)
        return
    if event.kind == "comment":
        # Answered by a comment trigger, if one matches, never by the DM drafter; nor does
        # it open the 24-hour window (not an INPUT_KIND): only the commenter's answer does.
        if incoming.on_comment is not None:
            await incoming.on_comment(incoming, message_id)
        return
    # STOP, START or a story mention thanked: the notice is the answer, no draft.
    answered = await _answered_by_notice(incoming, message_id)
    if event.kind in FOLLOWER_KINDS and not answered:
        if incoming.conversation.thread_owner_app_id and not event.is_standby:
            # Delivered to us as the owner, yet a handover said otherwise: stay on review.
            owner = incoming.conversation.thread_owner_app_id
            log.warning("ingest.thread_owner_mismatch", owner_app_id=owner)
        await schedule_reply(
            incoming.session,
            incoming.settings,
            account=incoming.account,
            conversation=incoming.conversation,
            standby=event.is_standby,
        )
    elif not answered:
        log.info("ingest.recorded", kind=event.kind)
    if event.kind in INPUT_KINDS:
        note_inbound(incoming.conversation, values["sent_at"])
        await refresh_profile_if_due(
            incoming.session, incoming.settings, account=incoming.account, contact=incoming.contact
        )


async def _answered_by_notice(incoming: Incoming, message_id: int) -> bool:
    if incoming.event.kind != "message":
        return False
    if await apply_command(incoming, message_id):
        return True
    return await apply_story_mention(incoming, message_id)


async def _apply_echo(incoming: Incoming) -> None:
    """A message the account sent: by us, by the influencer in Meta's apps, by another app."""
    session, account, event = incoming.session, incoming.account, incoming.event
    conversation = incoming.conversation
    our_app_ids = {incoming.settings.META_APP_ID, incoming.settings.INSTAGRAM_APP_ID} - {None}
    ours = event.app_id in our_app_ids or (event.metadata or "").startswith(OUR_METADATA_PREFIX)
    if not ours and event.mid:
        # Our send may be recorded before its echo arrives: same mid, same row.
        stored = await repository.message_by_mid(session, account.id, event.mid)
        ours = stored is not None and stored.author in {"bot", "moderator"}
    author = "bot" if ours else ("other_app" if event.app_id else "influencer")
    inserted = await insert_entry(incoming, direction="out", author=author)
    if ours:
        await _confirm_uncertain_send(session, account, event)
    if inserted is None or ours:
        return
    conversation.last_outbound_at = incoming.at
    # Someone answered by hand: what had reached us so far counts as answered, and the bot
    # steps back for a while and drops its waiting draft.
    await answered_by_hand(session, conversation.id, through_id=inserted)
    minutes = Policy.of(account.policy).pause_after_human_reply_minutes
    conversation.paused_until = utc_now() + timedelta(minutes=minutes)
    await supersede_pending_drafts(session, conversation.id, reason=f"{author} replied")
    log.info("ingest.human_reply_pause", author=author, minutes=minutes)


async def _confirm_uncertain_send(
    session: AsyncSession, account: Account, event: MetaEvent
) -> None:
    """Meta's echo proves a send whose worker died mid-call did arrive: let the outbox know."""
    outbound_id = (event.metadata or "").removeprefix(OUR_METADATA_PREFIX)
    if not outbound_id.isdigit():
        return
    if await repository.outbound_outcome_unknown(session, account.id, int(outbound_id)):
        await enqueue(
            session,
            JobKind.CONFIRM_SEND,
            {"outbound_id": int(outbound_id), "mid": event.mid},
            account_id=account.id,
        )


async def _apply_receipt(incoming: Incoming) -> None:
    event = incoming.event
    column = "read_at" if event.kind == "read" else "delivered_at"
    mids = event.delivered_mids or ((event.mid,) if event.mid else ())
    await repository.mark_outbound_read(
        incoming.session,
        incoming.conversation.id,
        column=column,
        watermark=event.watermark,
        mids=mids,
    )


_HANDLERS: dict[str, Callable[[Incoming], Awaitable[None]]] = {
    "read": _apply_receipt,
    "delivery": _apply_receipt,
    "echo": _apply_echo,
    "edit": events.apply_edit,
    "deleted": events.apply_deletion,
    "reaction": events.apply_reaction,
    "handover": events.apply_handover,
    "unknown": events.apply_unknown,
}
