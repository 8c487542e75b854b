"""SQL of the privacy domain: finding a person's rows, and deleting them in bounded batches."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, delete, false, func, inspect, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import (
    Account,
    AuditEntry,
    Contact,
    Conversation,
    DeletionRequest,
    Draft,
    InboxEvent,
    Job,
    Message,
    OutboundMessage,
)

# Small enough that no batch holds locks for long, large enough to finish in few rounds.
BATCH_SIZE = 500

Deletable = type[OutboundMessage] | type[Draft] | type[Message] | type[InboxEvent]
AnyDeletable = Deletable | type[Conversation] | type[Contact] | type[Job]


def row_dict(row: Any) -> dict[str, Any]:
    """Every column of a row, so an export stays complete when a column is added."""
    return {column.key: getattr(row, column.key) for column in inspect(type(row)).column_attrs}


async def accounts_of_meta_user(session: AsyncSession, meta_user_id: str) -> list[Account]:
    rows = await session.scalars(
        select(Account).where(Account.meta_user_id == meta_user_id).order_by(Account.id)
    )
    return list(rows.all())


async def latest_deletion_request(
    session: AsyncSession, meta_user_hash: str
) -> DeletionRequest | None:
    return await session.scalar(
        select(DeletionRequest)
        .where(DeletionRequest.meta_user_hash == meta_user_hash)
        .order_by(DeletionRequest.id.desc())
        .limit(1)
    )


async def deletion_request_by_code(session: AsyncSession, code: str) -> DeletionRequest | None:
    return await session.scalar(
        select(DeletionRequest).where(DeletionRequest.confirmation_code == code)
    )


async def delete_batch(
    session: AsyncSession, model: AnyDeletable, *conditions: ColumnElement[bool]
) -> int:
    """Deletes up to BATCH_SIZE rows matching `conditions`; returns how many."""
    ids = list(
        (
            await session.scalars(
                select(model.id).where(*conditions).order_by(model.id).limit(BATCH_SIZE)
            )
        ).all()
    )
    if ids:
        await session.execute(
            delete(model).where(model.id.in_(ids)).execution_options(synchronize_session=False)
        )
    return len(ids)


async def count(
    session: AsyncSession, model: AnyDeletable, *conditions: ColumnElement[bool]
) -> int:
    return int(
        await session.scalar(select(func.count()).select_from(model).where(*conditions)) or 0
    )


async def strip_audit_batch(session: AsyncSession, *conditions: ColumnElement[bool]) -> int:
    """Empties the details (which may name people) of up to BATCH_SIZE audit entries;
    action, actor, time and entity ids stay."""
    ids = list(
        (
            await session.scalars(
                select(AuditEntry.id)
                .where(*conditions, AuditEntry.details != {})
                .order_by(AuditEntry.id)
                .limit(BATCH_SIZE)
            )
        ).all()
    )
    if ids:
        await session.execute(
            update(AuditEntry)
            .where(AuditEntry.id.in_(ids))
            .values(details={})
            .execution_options(synchronize_session=False)
        )
    return len(ids)


def inbox_events_of_account(account_id: int, external_id: str) -> ColumnElement[bool]:
    """Raw bodies about an account: those its messages came from, and any naming its id
    (read receipts and events never turned into a message carry it too)."""
    from_messages = select(Message.inbox_event_id).where(
        Message.account_id == account_id, Message.inbox_event_id.is_not(None)
    )
    return or_(
        InboxEvent.id.in_(from_messages),
        InboxEvent.body.contains(f'"{external_id}"', autoescape=True),
    )


def audit_of_entities(entities: dict[str, Sequence[int]]) -> ColumnElement[bool]:
    """Audit entries about any of the given rows, keyed by table name."""
    return or_(
        *(
            (AuditEntry.entity_type == table) & AuditEntry.entity_id.in_(ids)
            for table, ids in entities.items()
            if ids
        ),
        false(),
    )


async def ids_where(
    session: AsyncSession, column: Any, *conditions: ColumnElement[bool]
) -> list[int]:
    return list((await session.scalars(select(column).where(*conditions))).all())


async def rows_where(
    session: AsyncSession, model: Any, *conditions: ColumnElement[bool]
) -> list[Any]:
    return list((await session.scalars(select(model).where(*conditions).order_by(model.id))).all())


async def inbox_candidates_of_contact(
    session: AsyncSession, conversation_ids: Sequence[int], external_id: str
) -> list[InboxEvent]:
    """Raw bodies that may concern one follower: those their conversation's messages came
    from, and any naming their id."""
    from_messages = select(Message.inbox_event_id).where(
        Message.conversation_id.in_(conversation_ids), Message.inbox_event_id.is_not(None)
    )
    return await rows_where(
        session,
        InboxEvent,
        or_(
            InboxEvent.id.in_(from_messages),
            InboxEvent.body.contains(f'"{external_id}"', autoescape=True),
        ),
    )


async def accounts_with_retention(session: AsyncSession) -> list[tuple[int, int]]:
    rows = await session.execute(
        select(Account.id, Account.retention_days)
        .where(Account.retention_days.is_not(None))
        .order_by(Account.id)
    )
    return [(account_id, days) for account_id, days in rows if days is not None]


async def delete_ids(session: AsyncSession, model: AnyDeletable, ids: Sequence[int]) -> int:
    """Deletes the given rows, in chunks that stay below the drivers' parameter limits."""
    deleted = 0
    for start in range(0, len(ids), BATCH_SIZE):
        result = await session.execute(
            delete(model)
            .where(model.id.in_(ids[start : start + BATCH_SIZE]))
            .execution_options(synchronize_session=False)
        )
        deleted += int(result.rowcount)  # type: ignore[attr-defined]
    return deleted
