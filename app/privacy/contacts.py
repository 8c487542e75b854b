"""A follower's own requests, which reach the influencer: access (export) and erasure.

A follower is one contact of one account; their data is one conversation's worth, so both
run inside the request's single transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.conversations.service import get_contact
from app.core.clock import utc_now
from app.meta.events import parse_webhook
from app.models import (
    Account,
    AuditEntry,
    Contact,
    Conversation,
    Draft,
    InboxEvent,
    InboxStatus,
    Message,
    OutboundMessage,
    User,
)
from app.privacy import repository
from app.privacy.repository import row_dict
from app.privacy.schemas import ContactExport, ConversationExport, ErasureCounts

log = structlog.get_logger("app.privacy")

EXPORT_NOTES = [
    "Messages are shown as stored: a message the follower unsent has its text erased.",
    "The raw webhook bodies these messages arrived in are not included: they hold the same "
    "messages as received from Meta, and may also hold other followers' messages.",
]


@dataclass(slots=True)
class FollowerRows:
    contact: Contact
    conversations: list[Conversation]
    messages: list[Message]
    drafts: list[Draft]
    outbound: list[OutboundMessage]

    @property
    def conversation_ids(self) -> list[int]:
        return [c.id for c in self.conversations]

    def entities(self) -> dict[str, Sequence[int]]:
        """The rows audit entries may name, by table."""
        return {
            "contacts": [self.contact.id],
            "conversations": self.conversation_ids,
            "messages": [m.id for m in self.messages],
            "drafts": [d.id for d in self.drafts],
            "outbound_messages": [o.id for o in self.outbound],
        }


async def _load(session: AsyncSession, contact: Contact) -> FollowerRows:
    conversations = await repository.rows_where(
        session, Conversation, Conversation.contact_id == contact.id
    )
    ids = [c.id for c in conversations]
    return FollowerRows(
        contact=contact,
        conversations=conversations,
        messages=await repository.rows_where(session, Message, Message.conversation_id.in_(ids)),
        drafts=await repository.rows_where(session, Draft, Draft.conversation_id.in_(ids)),
        outbound=await repository.rows_where(
            session, OutboundMessage, OutboundMessage.conversation_id.in_(ids)
        ),
    )


async def export_contact(session: AsyncSession, *, user: User, contact_id: int) -> ContactExport:
    contact = await get_contact(session, user=user, contact_id=contact_id)
    rows = await _load(session, contact)
    audit = await repository.rows_where(
        session, AuditEntry, repository.audit_of_entities(rows.entities())
    )
    conversations = [
        ConversationExport(
            conversation=row_dict(conversation),
            messages=[row_dict(m) for m in rows.messages if m.conversation_id == conversation.id],
            drafts=[row_dict(d) for d in rows.drafts if d.conversation_id == conversation.id],
            outbound_messages=[
                row_dict(o) for o in rows.outbound if o.conversation_id == conversation.id
            ],
        )
        for conversation in rows.conversations
    ]
    await record(
        session, action="contact.exported", user=user, account_id=contact.account_id, entity=contact
    )
    return ContactExport(
        exported_at=utc_now(),
        contact={**row_dict(contact), "opted_out": contact.opted_out_at is not None},
        conversations=conversations,
        audit_entries=[row_dict(a) for a in audit],
        notes=EXPORT_NOTES,
    )


def involvement(body: str, account_external_id: str, follower_id: str) -> str:
    """How a raw body concerns this follower of this account: "only" them, "shared" with
    others, or "none" (it names their id for another account, or in passing). A body we
    cannot read never became data; it is treated as theirs."""
    try:
        events = parse_webhook(json.loads(body))
    except (ValueError, RecursionError):  # PayloadError is a ValueError
        return "only"
    theirs = [
        e.account_external_id == account_external_id and e.follower_id == follower_id
        for e in events
    ]
    if all(theirs):
        return "only"
    return "shared" if any(theirs) else "none"


async def _their_inbox_events(
    session: AsyncSession, rows: FollowerRows, account: Account
) -> tuple[list[int], int]:
    """Raw bodies to delete (only about them) and how many are kept (shared with others)."""
    candidates: list[InboxEvent] = await repository.inbox_candidates_of_contact(
        session, rows.conversation_ids, rows.contact.external_id
    )
    found = [
        (e, involvement(e.body, account.external_id, rows.contact.external_id)) for e in candidates
    ]
    # A body a worker holds right now is left alone: deleting it under the worker would
    # fail its transaction; it is purged with the other raw bodies (docs/privacy.md).
    theirs = [e.id for e, how in found if how == "only" and e.status != InboxStatus.RUNNING]
    kept = sum(
        how == "shared" or (how == "only" and e.status == InboxStatus.RUNNING) for e, how in found
    )
    return theirs, kept


async def erase_contact(session: AsyncSession, *, user: User, contact_id: int) -> ErasureCounts:
    """Erases one follower of one account; other followers' rows are never touched."""
    contact = await get_contact(session, user=user, contact_id=contact_id)
    account = await session.get(Account, contact.account_id)
    assert account is not None  # contacts.account_id is a foreign key
    rows = await _load(session, contact)
    inbox_ids, inbox_kept = await _their_inbox_events(session, rows, account)
    counts = ErasureCounts(inbox_events_kept=inbox_kept)
    audit_filter = repository.audit_of_entities(rows.entities())
    while batch := await repository.strip_audit_batch(session, audit_filter):
        counts.audit_entries_anonymised += batch
    # Children first; the foreign keys would cascade, but counting needs explicit deletes.
    counts.outbound_messages = await repository.delete_ids(
        session, OutboundMessage, [o.id for o in rows.outbound]
    )
    counts.drafts = await repository.delete_ids(session, Draft, [d.id for d in rows.drafts])
    counts.messages = await repository.delete_ids(session, Message, [m.id for m in rows.messages])
    counts.inbox_events = await repository.delete_ids(session, InboxEvent, inbox_ids)
    counts.conversations = await repository.delete_ids(session, Conversation, rows.conversation_ids)
    counts.contacts = await repository.delete_ids(session, Contact, [contact.id])
    await record(
        session,
        action="contact.erased",
        user=user,
        account_id=account.id,
        entity=contact,
        details=counts.model_dump(),
    )
    log.info("privacy.contact_erased", account_id=account.id, **counts.model_dump())
    return counts
