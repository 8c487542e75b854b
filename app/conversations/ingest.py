"""Turns Meta events into contacts, conversations and messages, and schedules replies.

Runs in the worker, one transaction per stored webhook body. Every step is idempotent:
redelivered bodies and repeated message ids are stored once and answered at most once.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.conversations import repository
from app.core.clock import utc_now
from app.meta.events import MetaEvent
from app.models import Account, Conversation, Draft
from app.policy.schemas import Policy
from app.worker.queue import enqueue

log = structlog.get_logger("app.conversations")

DRAFT_JOB = "draft_reply"
# Handled by the outbox: an echo proved that a send of uncertain outcome arrived.
CONFIRM_SEND_JOB = "confirm_send"
OUR_METADATA_PREFIX = "inboxpilot:"
FOLLOWER_KINDS = {"message", "postback", "unsupported"}


async def apply_event(
    session: AsyncSession, settings: Settings, event: MetaEvent, *, inbox_event_id: int
) -> None:
    account = await repository.account_by_external_id(
        session, event.platform, event.account_external_id
    )
    if account is None:
        log.info("ingest.unknown_account", platform=event.platform, kind=event.kind)
        return
    if event.follower_id is None:
        log.info("ingest.no_follower", account_id=account.id, kind=event.kind)
        return
    contact = await repository.get_or_create_contact(session, account.id, event.follower_id)
    conversation = await repository.get_or_create_conversation(session, account.id, contact.id)
    structlog.contextvars.bind_contextvars(account_id=account.id, conversation_id=conversation.id)
    if event.kind in {"read", "delivery"}:
        await _apply_receipt(session, conversation, event)
    elif event.kind == "echo":
        our_app = settings.META_APP_ID is not None and event.app_id == settings.META_APP_ID
        await _apply_echo(session, account, conversation, event, inbox_event_id, our_app)
    else:
        await _apply_follower_event(session, settings, account, conversation, event, inbox_event_id)


def _message_values(
    account: Account, conversation: Conversation, event: MetaEvent, inbox_event_id: int
) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    if event.attachments:
        payload["attachments"] = [asdict(a) for a in event.attachments]
    for key in (
        "reply_to_mid",
        "reply_to_story_id",
        "quick_reply_payload",
        "postback_payload",
        "reaction",
        "reaction_action",
        "app_id",
        "metadata",
    ):
        value = getattr(event, key)
        if value is not None:
            payload[key] = value
    if event.is_standby:
        payload["standby"] = True
    if event.kind not in {"message", "echo"}:
        payload["raw"] = event.raw
    return {
        "account_id": account.id,
        "conversation_id": conversation.id,
        "mid": event.mid,
        "kind": event.kind if event.kind != "message" else ("text" if event.text else "attachment"),
        "text": event.text,
        "payload": payload,
        "sent_at": event.timestamp or utc_now(),
        "inbox_event_id": inbox_event_id,
    }


async def _apply_follower_event(
    session: AsyncSession,
    settings: Settings,
    account: Account,
    conversation: Conversation,
    event: MetaEvent,
    inbox_event_id: int,
) -> None:
    values = _message_values(account, conversation, event, inbox_event_id)
    # Events without a mid (reactions, referrals...) are keyed on the body they came in.
    if values["mid"] is None:
        values["mid"] = (
            f"{event.kind}:{inbox_event_id}:{event.follower_id}:{values['sent_at']:%s%f}"
        )
    message_id = await repository.insert_message(
        session, {**values, "direction": "in", "author": "follower"}
    )
    if message_id is None:
        log.info("ingest.duplicate_message", kind=event.kind)
        return
    if event.kind not in FOLLOWER_KINDS:
        log.info("ingest.recorded", kind=event.kind)
        return
    conversation.last_inbound_at = max(
        filter(None, [conversation.last_inbound_at, values["sent_at"]])
    )
    await _schedule_reply(session, settings, account, conversation, event)


async def _schedule_reply(
    session: AsyncSession,
    settings: Settings,
    account: Account,
    conversation: Conversation,
    event: MetaEvent,
) -> None:
    if Policy.of(account.policy).mode == "off":
        return
    # A newer follower message makes any waiting draft for this conversation stale.
    await supersede_pending_drafts(session, conversation.id, reason="newer follower message")
    await enqueue(
        session,
        DRAFT_JOB,
        {"conversation_id": conversation.id, "standby": event.is_standby},
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
        .where(Draft.conversation_id == conversation_id, Draft.status == "pending")
        .values(status="superseded", reject_reason=reason, updated_at=utc_now())
        .execution_options(synchronize_session=False)
    )


async def _apply_echo(
    session: AsyncSession,
    account: Account,
    conversation: Conversation,
    event: MetaEvent,
    inbox_event_id: int,
    our_app: bool,
) -> None:
    values = _message_values(account, conversation, event, inbox_event_id)
    ours = our_app or (event.metadata or "").startswith(OUR_METADATA_PREFIX)
    if not ours and event.mid:
        # Our send may be recorded before its echo arrives: same mid, same row.
        stored = await repository.message_by_mid(session, account.id, event.mid)
        ours = stored is not None and stored.author in {"bot", "moderator"}
    author = "bot" if ours else ("other_app" if event.app_id else "influencer")
    inserted = await repository.insert_message(
        session,
        {
            **values,
            "kind": "text" if event.text else "attachment",
            "direction": "out",
            "author": author,
        },
    )
    if ours:
        await _confirm_uncertain_send(session, account, event)
    if inserted is None or ours:
        return
    conversation.last_outbound_at = values["sent_at"]
    # Someone answered by hand: the bot steps back for a while and drops its waiting draft.
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
            CONFIRM_SEND_JOB,
            {"outbound_id": int(outbound_id), "mid": event.mid},
            account_id=account.id,
        )


async def _apply_receipt(
    session: AsyncSession, conversation: Conversation, event: MetaEvent
) -> None:
    column = "read_at" if event.kind == "read" else "delivered_at"
    mids = event.delivered_mids or ((event.mid,) if event.mid else ())
    await repository.mark_outbound_read(
        session, conversation.id, column=column, watermark=event.watermark, mids=mids
    )
