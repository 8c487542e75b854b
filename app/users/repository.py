"""SQL of users, API tokens and account membership."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import AccountMember, ApiToken, User


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
        select(AccountMember.account_id).where(AccountMember.user_id == user_id)
    )
    return list(rows.all())


async def is_member(session: AsyncSession, user_id: int, account_id: int) -> bool:
    found = await session.scalar(
        select(AccountMember.account_id).where(
            AccountMember.user_id == user_id, AccountMember.account_id == account_id
        )
    )
    return found is not None
