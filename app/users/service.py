"""Users, their API tokens and which accounts they may see."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import utc_now
from app.core.crypto import hash_api_token, hash_password, new_api_token
from app.errors import AppError, Conflict, NotFound
from app.models import Account, AccountMember, ApiToken, User
from app.users import repository

ROLES = ("admin", "moderator")


class Unauthenticated(AppError):
    status_code = 401


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    role: str,
    password: str,
    account_ids: Sequence[int] = (),
) -> User:
    email = email.strip().lower()
    if role not in ROLES:
        raise AppError(f"role must be one of {', '.join(ROLES)}")
    if "@" not in email:
        raise AppError("email is not valid")
    if len(password) < 8:
        raise AppError("password must have at least 8 characters")
    if await repository.get_by_email(session, email) is not None:
        raise Conflict(f"a user with email {email} exists already")
    user = User(email=email, role=role, password_hash=hash_password(password))
    session.add(user)
    await session.flush()
    for account_id in account_ids:
        await add_member(session, user=user, account_id=account_id)
    return user


async def add_member(session: AsyncSession, *, user: User, account_id: int) -> None:
    if await session.get(Account, account_id) is None:
        raise NotFound(f"account {account_id} not found")
    if not await repository.is_member(session, user.id, account_id):
        session.add(AccountMember(user_id=user.id, account_id=account_id))
        await session.flush()


async def create_token(session: AsyncSession, *, email: str) -> str:
    """A new API token for the user; only its hash is stored, so it is shown once."""
    user = await repository.get_by_email(session, email)
    if user is None:
        raise NotFound(f"no user with email {email}")
    token = new_api_token()
    session.add(ApiToken(user_id=user.id, token_hash=hash_api_token(token)))
    await session.flush()
    return token


async def authenticate(session: AsyncSession, token: str) -> User:
    found = await repository.get_by_token_hash(session, hash_api_token(token))
    if found is None or not found[0].is_active:
        raise Unauthenticated("invalid or revoked API token")
    user, api_token = found
    api_token.last_used_at = utc_now()
    return user


async def visible_account_ids(session: AsyncSession, user: User) -> list[int] | None:
    """None means every account (admins)."""
    if user.role == "admin":
        return None
    return await repository.account_ids_of(session, user.id)


async def ensure_access(session: AsyncSession, user: User, account_id: int) -> None:
    """404 for an account the user may not see, so ids of others' accounts do not leak."""
    if user.role == "admin":
        if await session.get(Account, account_id) is None:
            raise NotFound("account not found")
        return
    if not await repository.is_member(session, user.id, account_id):
        raise NotFound("account not found")
