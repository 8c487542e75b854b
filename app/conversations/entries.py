"""How one Meta event becomes one conversation entry (a `messages` row).

Shared by the ingest dispatcher and the per-kind handlers in `app.conversations.events`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.conversations import repository
from app.core.clock import utc_now
from app.meta.events import MetaEvent
from app.models import Account, Contact, Conversation, Message
from app.worker.queue import PendingJobs

# Kinds whose `mid` is the event's own message id. On the others (reaction, read...) the
# mid names another message, so the entry gets a synthetic key instead.
OWN_MID_KINDS = {"message", "postback", "unsupported", "echo", "unknown"}
_MID_MAX = 255  # messages.mid is VARCHAR(255)
_EVENT_FIELDS = (
    "reply_to_mid",
    "reply_to_story_id",
    "reply_to_story_url",
    "quick_reply_payload",
    "postback_payload",
    "reaction",
    "reaction_action",
    "app_id",
    "metadata",
    "referral_ref",
    "referral_source",
    "handover_type",
    "new_owner_app_id",
    "comment_id",
    "parent_id",
    "media_id",
)


@dataclass(slots=True)
class Unit:
    """What the events normalised in one transaction share: the session, the jobs they
    queue (written in one statement before the commit, `PendingJobs`), and the rows
    already looked up or created, so a batch reads each account once and a follower's
    second event in it finds their thread without a round trip."""

    session: AsyncSession
    settings: Settings
    # Called with a new comment's entry id (comment triggers: app/comments/intake.py, passed
    # in by the worker's wiring, as this domain does not import that one).
    on_comment: CommentHook | None = None
    jobs: PendingJobs = field(default_factory=PendingJobs)
    accounts: dict[tuple[str, str], Account | None] = field(default_factory=dict)
    threads: dict[tuple[int, str], tuple[Contact, Conversation]] = field(default_factory=dict)
    # Conversations created in this transaction: no draft can wait for them yet.
    created: set[int] = field(default_factory=set)


@dataclass(slots=True)
class Incoming:
    """One event and the rows it concerns, handed to whichever handler applies it."""

    unit: Unit
    account: Account
    contact: Contact
    conversation: Conversation
    event: MetaEvent
    inbox_event_id: int

    @property
    def session(self) -> AsyncSession:
        return self.unit.session

    @property
    def settings(self) -> Settings:
        return self.unit.settings

    @property
    def on_comment(self) -> CommentHook | None:
        return self.unit.on_comment

    @property
    def jobs(self) -> PendingJobs:
        return self.unit.jobs

    @property
    def is_new_conversation(self) -> bool:
        """Created in this transaction: it has no drafts to supersede."""
        return self.conversation.id in self.unit.created

    @property
    def at(self) -> datetime:
        return self.event.timestamp or utc_now()


CommentHook = Callable[[Incoming, int], Awaitable[None]]


def entry_kind(event: MetaEvent) -> str:
    if event.kind in {"message", "echo"}:
        return "attachment" if event.attachments and not event.text else "text"
    return event.kind


def entry_key(event: MetaEvent, inbox_event_id: int) -> str:
    """The dedupe key of an entry: Meta's mid where it names this event, else synthetic.

    Synthetic keys are built from the event itself (not from the body it came in), so the
    same reaction redelivered in another batch is still stored once.
    """
    if event.kind in OWN_MID_KINDS and event.mid:
        return event.mid
    if event.kind == "comment" and event.comment_id:
        return f"comment:{event.comment_id}"
    moment = (
        str(int(event.timestamp.timestamp() * 1000)) if event.timestamp else f"ie{inbox_event_id}"
    )
    parts = (
        event.kind,
        event.follower_id or "",
        moment,
        event.mid or "",
        event.reaction_action or event.handover_type or event.referral_ref or "",
    )
    key = ":".join(parts)
    if len(key) > _MID_MAX:
        key = f"{event.kind}:{hashlib.sha256(key.encode()).hexdigest()}"
    return key


def entry_payload(event: MetaEvent) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    if event.attachments:
        # URLs only: Meta's media links expire and story media must never be stored.
        payload["attachments"] = [asdict(a) for a in event.attachments]
    for key in _EVENT_FIELDS:
        value = getattr(event, key)
        if value is not None:
            payload[key] = value
    if event.is_standby:
        payload["standby"] = True
    if event.kind not in {"message", "echo", "edit"}:
        # Kept for what we do not model yet; message text lives in `text`, not here twice.
        payload["raw"] = event.raw
    return payload


def entry_values(incoming: Incoming, **overrides: Any) -> dict[str, Any]:
    event = incoming.event
    values: dict[str, Any] = {
        "account_id": incoming.account.id,
        "conversation_id": incoming.conversation.id,
        "mid": entry_key(event, incoming.inbox_event_id),
        "direction": "in",
        "author": "follower",
        "kind": entry_kind(event),
        "text": event.text,
        "payload": entry_payload(event),
        "sent_at": incoming.at,
        "inbox_event_id": incoming.inbox_event_id,
    }
    values.update(overrides)
    return values


async def insert_entry(incoming: Incoming, **overrides: Any) -> int | None:
    """Stores the event's entry; None when it is stored already (a redelivery)."""
    return await repository.insert_message(incoming.session, entry_values(incoming, **overrides))


def quote_of(message: Message) -> dict[str, Any]:
    """What a reply shows of the message it answers (erased again if that one is unsent)."""
    return {
        "message_id": message.id,
        "mid": message.mid,
        "author": message.author,
        "kind": message.kind,
        "text": message.text,
    }


def note_inbound(conversation: Conversation, at: datetime) -> None:
    """The follower's latest input: it opens Meta's 24-hour window for replies."""
    conversation.last_inbound_at = max(filter(None, [conversation.last_inbound_at, at]))
