"""SQL of users, API tokens and account membership."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, delete, literal, null, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import upsert
from app.models import Account, AccountMember, ApiToken, AttemptCounter, User
from app.models.base import UTCDateTime

# A member kept out until the account's owner keeps them (see app.users.members.claim).
SUSPENDED = "suspended"


async def get_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == email.strip().lower()))


async def get_by_token_hash(session: AsyncSession, token_hash: str) -> tuple[User, ApiToken] | None:
    row = (
        await session.execute(
            select(User, ApiToken)
            .join(ApiToken, ApiToken.user_id == User.id)
            .where(ApiToken.token_hash == token_hash, ApiToken.revoked_at.is_(None))
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def account_ids_of(session: AsyncSession, user_id: int) -> list[int]:
    rows = await session.scalars(
        select(AccountMember.account_id).where(
            AccountMember.user_id == user_id, AccountMember.role != SUSPENDED
        )
    )
    return list(rows.all())


async def is_member(session: AsyncSession, user_id: int, account_id: int) -> bool:
    found = await session.scalar(
        select(AccountMember.account_id).where(
            AccountMember.user_id == user_id,
            AccountMember.account_id == account_id,
            AccountMember.role != SUSPENDED,
        )
    )
    return found is not None


async def role_of(session: AsyncSession, user_id: int, account_id: int) -> str | None:
    """owner, moderator, suspended, or None for no membership."""
    member = await session.get(AccountMember, (account_id, user_id))
    return None if member is None else member.role


async def members_of(session: AsyncSession, account_id: int) -> list[tuple[AccountMember, User]]:
    """The account's members with their users: the owner first, then by e-mail."""
    rows = await session.execute(
        select(AccountMember, User)
        .join(User, User.id == AccountMember.user_id)
        .where(AccountMember.account_id == account_id)
        .order_by((AccountMember.role != "owner"), User.email)
    )
    return [(row[0], row[1]) for row in rows.all()]


async def list_users(session: AsyncSession) -> list[User]:
    return list((await session.scalars(select(User).order_by(User.email))).all())


async def accounts(session: AsyncSession) -> list[tuple[int, str]]:
    rows = await session.execute(
        select(Account.id, Account.name).order_by(Account.name, Account.id)
    )
    return [(row[0], row[1]) for row in rows.all()]


async def memberships(session: AsyncSession, user_id: int | None = None) -> list[AccountMember]:
    query = select(AccountMember).order_by(AccountMember.user_id, AccountMember.account_id)
    if user_id is not None:
        query = query.where(AccountMember.user_id == user_id)
    return list((await session.scalars(query)).all())


async def owners_of(session: AsyncSession, account_id: int) -> list[AccountMember]:
    query = select(AccountMember).where(
        AccountMember.account_id == account_id, AccountMember.role == "owner"
    )
    return list((await session.scalars(query)).all())


async def revoke_api_tokens(session: AsyncSession, user_id: int, at: datetime) -> int:
    result = await session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# --- attempt counters (see app/users/attempts.py) ----------------------------------------


async def count_attempt(
    session: AsyncSession,
    *,
    kind: str,
    key_hash: str,
    now: datetime,
    free: int,
    window: timedelta,
    delays: Sequence[timedelta],
) -> bool:
    """Counts one attempt against the key in one atomic upsert, unless the key must wait
    (False then, and nothing changes). Concurrent callers are serialised on the row, so
    each sees the count the previous one left: exactly `free` attempts get through.

    The run of attempts starts over when it is stale: fewer than `free` within `window`,
    or nobody tried for `window` after the wait was over. From the `free`-th attempt on,
    the next one waits `delays[0]`, then `delays[1]`, ..., then `delays[-1]` for good."""
    counter = AttemptCounter
    stale = or_(
        and_(counter.attempts < free, counter.window_start_at < now - window),
        and_(counter.retry_at.is_not(None), counter.retry_at < now - window),
    )
    attempts = case((stale, 1), else_=counter.attempts + 1)
    waits = [(attempts == free + n, _at(now + delay)) for n, delay in enumerate(delays)]
    retry_at = case((attempts < free, null()), *waits, else_=_at(now + delays[-1]))
    statement = upsert(
        session,
        AttemptCounter.__table__,
        ["kind", "key_hash"],
        values={
            "kind": kind,
            "key_hash": key_hash,
            "attempts": 1,
            "window_start_at": now,
            "last_at": now,
            "retry_at": None,
        },
        set_={
            "attempts": attempts,
            "window_start_at": case((stale, _at(now)), else_=counter.window_start_at),
            "last_at": now,
            "retry_at": retry_at,
        },
        where=or_(counter.retry_at.is_(None), counter.retry_at <= now),
    ).returning(AttemptCounter.__table__.c.attempts)
    return (await session.execute(statement)).first() is not None


def _at(moment: datetime) -> Any:
    return literal(moment, UTCDateTime())


async def attempt_retry_at(session: AsyncSession, *, kind: str, key_hash: str) -> datetime | None:
    return await session.scalar(
        select(AttemptCounter.retry_at).where(
            AttemptCounter.kind == kind, AttemptCounter.key_hash == key_hash
        )
    )


async def refund_attempt(session: AsyncSession, *, kind: str, key_hash: str, free: int) -> None:
    """Takes back one counted attempt (it turned out right); below `free`, no wait."""
    counter = AttemptCounter
    await session.execute(
        update(counter)
        .where(counter.kind == kind, counter.key_hash == key_hash, counter.attempts > 0)
        .values(
            attempts=counter.attempts - 1,
            retry_at=case((counter.attempts - 1 < free, null()), else_=counter.retry_at),
        )
        .execution_options(synchronize_session=False)
    )


async def reset_attempts(session: AsyncSession, *, kind: str, key_hash: str) -> None:
    await session.execute(
        delete(AttemptCounter).where(
            AttemptCounter.kind == kind, AttemptCounter.key_hash == key_hash
        )
    )


async def purge_attempts(session: AsyncSession, *, unused_since: datetime) -> int:
    result = await session.execute(
        delete(AttemptCounter).where(AttemptCounter.last_at < unused_since)
    )
    return int(getattr(result, "rowcount", 0) or 0)
