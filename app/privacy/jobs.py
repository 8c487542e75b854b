"""Worker handlers: the erasure behind a Meta data deletion request, and daily retention.

Both delete in bounded batches, one short transaction per batch, so neither holds locks
for long nor loses more than a batch to a crash; both are idempotent, and a re-run
finishes the work.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import structlog
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import utc_now
from app.core.db import unit_of_work
from app.models import (
    IN_FLIGHT,
    UNPROCESSED,
    AuditEntry,
    Contact,
    Conversation,
    Draft,
    InboxEvent,
    Job,
    Message,
    OutboundMessage,
)
from app.privacy import repository, service
from app.privacy.repository import AnyDeletable
from app.runtime import Runtime
from app.users import attempts
from app.worker.runner import Postpone

log = structlog.get_logger("app.privacy")

RETENTION_EVERY_SECONDS = 24 * 3600.0
# Raw webhook bodies are kept only to re-process or debug an event: once the worker has
# handled them, 30 days at most, less if any account's retention is shorter.
RAW_BODY_RETENTION_DAYS = 30
# Replies a worker may be sending right now are never purged under it.
WAIT_FOR_WORKER = timedelta(seconds=30)

Step = Callable[[AsyncSession], Awaitable[int]]


def _deleting(model: AnyDeletable, *conditions: ColumnElement[bool]) -> Step:
    async def step(session: AsyncSession) -> int:
        return await repository.delete_batch(session, model, *conditions)

    return step


async def _drain(runtime: Runtime, step: Step, *, request_id: int | None, key: str) -> int:
    """Runs `step` batch after batch until it finds nothing more to do."""
    total = 0
    while True:
        async with unit_of_work(runtime.sessionmaker) as session:
            done = await step(session)
            if request_id is not None:
                await service.add_erased(session, request_id, key, done)
        total += done
        if done < repository.BATCH_SIZE:
            return total


async def erase_meta_user(runtime: Runtime, job: Job) -> None:
    """Erases the accounts of one Meta data deletion request (ids in the payload)."""
    request_id = int(job.payload["deletion_request_id"])
    account_ids = [int(i) for i in job.payload.get("account_ids", [])]
    async with unit_of_work(runtime.sessionmaker) as session:
        await service.mark_in_progress(session, request_id)
    finished = [await _erase_account(runtime, request_id, a) for a in account_ids]
    if not all(finished):
        # Raw bodies still waiting for the worker may carry other accounts' events too.
        raise Postpone("webhook events still being processed", until=utc_now() + WAIT_FOR_WORKER)
    async with unit_of_work(runtime.sessionmaker) as session:
        await service.mark_completed(session, request_id)


def _account_steps(account_id: int, external_id: str) -> list[tuple[str, Step]]:
    raw = repository.inbox_events_of_account(account_id, external_id)
    return [
        # Raw bodies first: found through the messages, which go next.
        ("inbox_events", _deleting(InboxEvent, raw, InboxEvent.status.not_in(UNPROCESSED))),
        ("outbound_messages", _deleting(OutboundMessage, OutboundMessage.account_id == account_id)),
        ("drafts", _deleting(Draft, Draft.account_id == account_id)),
        ("messages", _deleting(Message, Message.account_id == account_id)),
        ("conversations", _deleting(Conversation, Conversation.account_id == account_id)),
        ("contacts", _deleting(Contact, Contact.account_id == account_id)),
        ("jobs", _deleting(Job, Job.account_id == account_id, Job.status == "queued")),
    ]


async def _erase_account(runtime: Runtime, request_id: int, account_id: int) -> bool:
    """One pass over an account; False while the worker may still write to it (a raw body
    not yet handled, a job running), so that the job runs again and sweeps once more."""
    async with unit_of_work(runtime.sessionmaker) as session:
        external_id = await service.anonymise_account(session, account_id)
    if external_id is None:
        return True
    for key, step in _account_steps(account_id, external_id):
        await _drain(runtime, step, request_id=request_id, key=key)

    async def strip(session: AsyncSession) -> int:
        # The erasure's own entries hold no personal data and must survive a re-run.
        return await repository.strip_audit_batch(
            session,
            AuditEntry.account_id == account_id,
            AuditEntry.action.not_in(service.ERASURE_ACTIONS),
        )

    await _drain(runtime, strip, request_id=request_id, key="audit_entries_anonymised")
    async with unit_of_work(runtime.sessionmaker) as session:
        unread = await repository.count(
            session,
            InboxEvent,
            repository.inbox_events_of_account(account_id, external_id),
            InboxEvent.status.in_(UNPROCESSED),
        )
        if unread:
            return False
        # From here on no webhook can reach the account; only running jobs still can.
        await service.tombstone_account(session, request_id, account_id)
        running = await repository.count(
            session, Job, Job.account_id == account_id, Job.status == "running"
        )
    return running == 0


def _expired_drafts(account_id: int, cutoff: datetime) -> ColumnElement[bool]:
    """Drafts made before the cutoff or answering a message older than it, unless their
    reply is on its way."""
    old_messages = select(Message.id).where(
        Message.account_id == account_id, Message.sent_at < cutoff
    )
    in_flight = select(OutboundMessage.draft_id).where(
        OutboundMessage.account_id == account_id,
        OutboundMessage.status.in_(IN_FLIGHT),
        OutboundMessage.draft_id.is_not(None),
    )
    return (
        (Draft.account_id == account_id)
        & or_(Draft.created_at < cutoff, Draft.reply_to_message_id.in_(old_messages))
        & Draft.id.not_in(in_flight)
    )


def _retention_steps(account_id: int, cutoff: datetime) -> list[tuple[str, Step]]:
    expired_drafts = _expired_drafts(account_id, cutoff)
    outbound = (
        (OutboundMessage.account_id == account_id)
        & OutboundMessage.status.not_in(IN_FLIGHT)
        & or_(
            OutboundMessage.draft_id.in_(select(Draft.id).where(expired_drafts)),
            OutboundMessage.created_at < cutoff,
        )
    )
    return [
        ("outbound_messages", _deleting(OutboundMessage, outbound)),
        ("drafts", _deleting(Draft, expired_drafts)),
        (
            "messages",
            _deleting(Message, Message.account_id == account_id, Message.sent_at < cutoff),
        ),
    ]


async def purge_expired(runtime: Runtime, _job: Job) -> None:
    """Daily: each account's messages older than its retention_days, with their drafts and
    replies; handled raw webhook bodies older than the shortest retention (30 days at most)."""
    now = utc_now()
    async with unit_of_work(runtime.sessionmaker) as session:
        accounts = await repository.accounts_with_retention(session)
    for account_id, days in accounts:
        cutoff = now - timedelta(days=max(days, 1))  # 0 would purge today's conversations
        for key, step in _retention_steps(account_id, cutoff):
            purged = await _drain(runtime, step, request_id=None, key=key)
            if purged:
                log.info("privacy.retention_purged", account_id=account_id, kind=key, rows=purged)
    raw_days = max(1, min([RAW_BODY_RETENTION_DAYS, *(days for _, days in accounts)]))
    raw = _deleting(
        InboxEvent,
        InboxEvent.received_at < now - timedelta(days=raw_days),
        InboxEvent.status.not_in(UNPROCESSED),
    )
    purged = await _drain(runtime, raw, request_id=None, key="inbox_events")
    async with unit_of_work(runtime.sessionmaker) as session:
        counters = await attempts.purge(session)
    log.info(
        "privacy.retention_done",
        accounts=len(accounts),
        inbox_events=purged,
        attempt_counters=counters,
    )
