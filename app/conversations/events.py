"""Handlers for the events that change what is stored rather than add a plain message:
edits, unsends, reactions, handovers, policy enforcement and types we do not know yet."""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.conversations import repository
from app.conversations.entries import Incoming, insert_entry, note_inbound, quote_of
from app.conversations.replies import answer_later, withdraw_replies
from app.inbox.repository import scrub_message
from app.meta.events import MetaEvent
from app.models import Account, Message

log = structlog.get_logger("app.conversations")

EDITED_REASON = "follower edited the message"
DELETED_REASON = "follower deleted the message"
HANDED_OVER_REASON = "another app or a person took the thread"
# Meta keeps adding event types: log each new one once per process, not once per event.
_unknown_types_logged: set[str] = set()


async def apply_edit(incoming: Incoming) -> None:
    """The follower changed a message: new text, the old one kept, and a fresh draft."""
    event, session = incoming.event, incoming.session
    stored = await _stored(incoming)
    if stored is None:
        # The original never reached us (or comes later, and is then ignored as a
        # duplicate of this mid): the edited text is the message.
        inserted = await insert_entry(
            incoming, mid=event.mid, kind="text", payload={}, edited_at=incoming.at
        )
        if inserted is not None:
            note_inbound(incoming.conversation, incoming.at)
            await answer_later(incoming, supersede_reason="newer follower message")
        return
    if stored.deleted_at is not None or stored.direction != "in" or event.text is None:
        return
    if event.text == stored.text or (
        stored.edited_at is not None and event.timestamp and event.timestamp <= stored.edited_at
    ):
        return  # a redelivery, or an older edit arriving after a newer one
    previous = [*stored.payload.get("previous_texts", []), stored.text]
    stored.payload = {**stored.payload, "previous_texts": previous}
    stored.text, stored.edited_at = event.text, incoming.at
    if stored.kind == "attachment":
        stored.kind = "text"
    await _update_quotes(session, stored)
    await withdraw_replies(
        session,
        incoming.conversation.id,
        reason=EDITED_REASON,
        error_code="message_edited",
        since_message=stored,
    )
    await answer_later(incoming, supersede_reason=None)
    log.info("ingest.message_edited", message_id=stored.id)


async def apply_deletion(incoming: Incoming) -> None:
    """The follower unsent a message: its content leaves our store, replies to it stop."""
    session = incoming.session
    stored = await _stored(incoming)
    if stored is None:
        # A tombstone under the mid: if the message itself is redelivered later, the
        # insert is ignored and its content is never stored.
        await insert_entry(
            incoming, mid=incoming.event.mid, kind="deleted", payload={}, deleted_at=incoming.at
        )
        return
    if stored.deleted_at is not None:
        return
    if stored.direction != "in":
        log.warning("ingest.deletion_of_own_message", message_id=stored.id)
        return
    stored.text, stored.payload, stored.kind = None, {}, "deleted"
    stored.deleted_at = incoming.at
    if stored.mid:
        await scrub_message(session, stored.mid)
    await _update_quotes(session, stored)
    withdrawn = await withdraw_replies(
        session,
        incoming.conversation.id,
        reason=DELETED_REASON,
        error_code="message_deleted",
        since_message=stored,
    )
    if withdrawn:
        # Earlier messages the withdrawn draft also answered may still deserve a reply.
        await answer_later(incoming, supersede_reason=None)
    log.info("ingest.message_deleted", message_id=stored.id, withdrawn=withdrawn)


async def apply_reaction(incoming: Incoming) -> None:
    """Recorded as an entry and on the reacted message; reactions are never answered."""
    event = incoming.event
    if await insert_entry(incoming, text=None) is None:
        return
    reacted = await _stored(incoming)
    if reacted is None or event.timestamp is None:
        return
    at_ms = int(event.timestamp.timestamp() * 1000)
    payload = dict(reacted.payload)
    if payload.get("reaction_at_ms", 0) > at_ms:
        return  # a newer react/unreact is recorded already
    if event.reaction_action == "unreact":
        payload.pop("reaction", None)
    else:
        payload["reaction"] = event.reaction
    payload["reaction_at_ms"] = at_ms
    reacted.payload = payload


async def apply_handover(incoming: Incoming) -> None:
    """Conversation routing: who may answer this thread now. Recorded as an entry."""
    event, conversation = incoming.event, incoming.conversation
    if await insert_entry(incoming, author="meta", text=None) is None:
        return
    if event.handover_type not in {"pass_thread_control", "take_thread_control"}:
        log.info("ingest.handover_recorded", handover_type=event.handover_type)
        return
    ours = {incoming.settings.META_APP_ID, incoming.settings.INSTAGRAM_APP_ID} - {None}
    if event.new_owner_app_id in ours:
        conversation.thread_owner_app_id, conversation.handed_over_at = None, None
        log.info("ingest.thread_control_returned")
        return
    # Another app, or a person in Meta's inbox, holds the thread: draft for review only,
    # and stop automatic replies that were about to go out.
    conversation.thread_owner_app_id = event.new_owner_app_id or "unknown"
    conversation.handed_over_at = incoming.at
    await withdraw_replies(
        incoming.session,
        conversation.id,
        reason=HANDED_OVER_REASON,
        error_code="thread_handed_over",
        pending=False,
    )
    log.info("ingest.thread_handed_over", owner_app_id=conversation.thread_owner_app_id)


async def apply_unknown(incoming: Incoming) -> None:
    """A type we do not model: kept raw as an entry (never answered), logged once per type."""
    log_unknown_once(incoming.event)
    await insert_entry(incoming, text=None)


async def apply_policy(session: AsyncSession, account: Account, event: MetaEvent) -> None:
    """Meta warned or blocked the account: automation stops until a person looks at it."""
    action, reason = event.policy_action or "unknown", event.text or ""
    log.warning("ingest.policy_enforcement", action=action, reason=reason)
    if action in {"warning", "block", "unknown"}:
        account.is_paused = True
        account.status_reason = f"Meta policy enforcement ({action}): {reason}".strip()
    # An unblock is recorded but does not resume: a person decides when the bot answers again.
    await record(
        session,
        action="account.policy_enforcement",
        account_id=account.id,
        entity=account,
        details={"action": action, "reason": reason, "paused": account.is_paused},
    )


def log_unknown_once(event: MetaEvent) -> None:
    kind = unknown_type(event.raw)
    if kind not in _unknown_types_logged:
        _unknown_types_logged.add(kind)
        log.warning("ingest.unknown_event_type", event_type=kind, platform=event.platform)


def unknown_type(raw: dict[str, Any]) -> str:
    """A short name for an unknown item: its content keys (or its `changes` field)."""
    if "field" in raw:
        return f"changes:{raw.get('field')}"
    keys = sorted(set(raw) - {"sender", "recipient", "timestamp"})
    message = raw.get("message")
    if keys == ["message"] and isinstance(message, dict):
        return "message:" + ",".join(sorted(set(message) - {"mid"}))
    return ",".join(keys) or "empty"


async def _stored(incoming: Incoming) -> Message | None:
    mid = incoming.event.mid
    if mid is None:
        return None
    return await repository.message_by_mid(incoming.session, incoming.account.id, mid)


async def _update_quotes(session: AsyncSession, message: Message) -> None:
    """Replies that show this message's text follow its edit, or lose it with it."""
    for quoting in await repository.messages_quoting(session, message):
        quote = quote_of(message) if message.deleted_at is None else {"message_id": message.id}
        quoting.payload = {**quoting.payload, "reply_to": quote}
