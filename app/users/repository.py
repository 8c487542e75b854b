"""SQL of users, API tokens and account membership."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Account, AccountMember, ApiToken, User

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
