"""The audit log: every automatic send and every human decision, with who and when."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Account, AuditEntry, User


async def record(
    session: AsyncSession,
    *,
    action: str,
    user: User | None = None,
    actor: str | None = None,
    account_id: int | None = None,
    entity: Any = None,
    details: dict[str, Any] | None = None,
) -> None:
    session.add(
        entry(
            action=action,
            user=user,
            actor=actor,
            account_id=account_id,
            entity=entity,
            details=details,
        )
    )


def entry(
    *,
    action: str,
    user: User | None = None,
    actor: str | None = None,
    account_id: int | None = None,
    entity: Any = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """The audit row `record` adds (not added to the session)."""
    return AuditEntry(
        actor=actor or ("user" if user is not None else "system"),
        user_id=None if user is None else user.id,
        account_id=account_id,
        action=action,
        entity_type=None if entity is None else type(entity).__tablename__,
        entity_id=None if entity is None else entity.id,
        details=details or {},
    )


async def activity_since(
    session: AsyncSession,
    *,
    action: str,
    since: datetime,
    user_id: int | None = None,
    details: Mapping[str, str] | None = None,
) -> tuple[int, datetime | None]:
    """How many `action` entries since then, and when the latest was. `details` matches
    string values of the JSON column (->> on PostgreSQL, JSON_EXTRACT on SQLite)."""
    query = select(func.count(AuditEntry.id), func.max(AuditEntry.at)).where(
        AuditEntry.action == action, AuditEntry.at > since
    )
    if user_id is not None:
        query = query.where(AuditEntry.user_id == user_id)
    for key, value in (details or {}).items():
        query = query.where(AuditEntry.details[key].as_string() == value)
    count, latest = (await session.execute(query)).one()
    return int(count), latest


@dataclass(frozen=True)
class AuditFilter:
    action_prefix: str | None = None
    account_id: int | None = None
    user_id: int | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


@dataclass(frozen=True)
class AuditRow:
    entry: AuditEntry
    user_email: str | None
    account_name: str | None


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditRow]
    has_newer: bool
    has_older: bool


def _conditions(filters: AuditFilter) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if filters.action_prefix:
        found.append(AuditEntry.action.startswith(filters.action_prefix, autoescape=True))
    if filters.account_id is not None:
        found.append(AuditEntry.account_id == filters.account_id)
    if filters.user_id is not None:
        found.append(AuditEntry.user_id == filters.user_id)
    if filters.since is not None:
        found.append(AuditEntry.at >= filters.since)
    if filters.until is not None:
        found.append(AuditEntry.at < filters.until)
    return found


async def browse(
    session: AsyncSession,
    *,
    filters: AuditFilter,
    before_id: int | None = None,
    after_id: int | None = None,
    limit: int = 50,
) -> AuditPage:
    """One page, newest first, by keyset on id: entries older than `before_id`, or the
    page just newer than `after_id` (the "newer" link)."""
    query = (
        select(AuditEntry, User.email, Account.name)
        .outerjoin(User, User.id == AuditEntry.user_id)
        .outerjoin(Account, Account.id == AuditEntry.account_id)
        .where(*_conditions(filters))
    )
    if after_id is not None:
        query = query.where(AuditEntry.id > after_id).order_by(AuditEntry.id.asc())
    else:
        if before_id is not None:
            query = query.where(AuditEntry.id < before_id)
        query = query.order_by(AuditEntry.id.desc())
    found = [AuditRow(r[0], r[1], r[2]) for r in (await session.execute(query.limit(limit)))]
    rows = sorted(found, key=lambda row: row.entry.id, reverse=True)
    if not rows:
        return AuditPage([], has_newer=after_id is not None, has_older=before_id is not None)
    return AuditPage(
        rows,
        has_newer=await _exists(session, filters, AuditEntry.id > rows[0].entry.id),
        has_older=await _exists(session, filters, AuditEntry.id < rows[-1].entry.id),
    )


async def _exists(session: AsyncSession, filters: AuditFilter, where: ColumnElement[bool]) -> bool:
    query = select(AuditEntry.id).where(*_conditions(filters), where).limit(1)
    return await session.scalar(query) is not None


async def filter_choices(session: AsyncSession) -> tuple[list[Any], list[Any]]:
    """Accounts (id, name) and users (id, email) to filter by."""
    accounts = await session.execute(select(Account.id, Account.name).order_by(Account.name))
    users = await session.execute(select(User.id, User.email).order_by(User.email))
    return [tuple(r) for r in accounts], [tuple(r) for r in users]
