"""Who works on an account, and who decides for it: the owner, proven through Meta.

An account has at most one `owner` member: the influencer whose account it is. The owner
(or an admin) alone changes what decides what is sent in their name (mode, thresholds,
automatic intents), the access token, retention and the LLM budget; moderators work the
queue. Whoever completes Facebook or Instagram Login for an account has proven they
control it and becomes its owner (`claim`). Everyone who had access before that proof is
suspended: they see nothing of the account until the owner keeps them (back to
moderator) or removes them. Suspending rather than deleting keeps the list in front of
the owner, who can restore a colleague in one click, while a stranger who registered the
account first loses access at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.errors import AppError, Forbidden, NotFound
from app.models import User
from app.users import repository
from app.users.service import SUSPENDED, ensure_access, set_membership


@dataclass(frozen=True, slots=True)
class Member:
    user_id: int
    email: str
    role: str  # owner | moderator | suspended
    is_active: bool


async def can_decide(session: AsyncSession, user: User, account_id: int) -> bool:
    """The account's owner or an admin: may change the owner's settings."""
    if user.role == "admin":
        return True
    return await repository.role_of(session, user.id, account_id) == "owner"


async def ensure_owner(session: AsyncSession, user: User, account_id: int, what: str) -> None:
    """403 unless the user is the account's owner or an admin (call `ensure_access` first,
    so a stranger gets the same 404 as for an account that does not exist)."""
    if not await can_decide(session, user, account_id):
        raise Forbidden(f"only the account's owner or an admin can change {what}")


async def list_members(session: AsyncSession, *, user: User, account_id: int) -> list[Member]:
    await ensure_access(session, user, account_id)
    return [
        Member(u.id, u.email, m.role, u.is_active)
        for m, u in await repository.members_of(session, account_id)
    ]


async def owner_email(session: AsyncSession, account_id: int) -> str | None:
    members = await repository.members_of(session, account_id)
    return next((u.email for m, u in members if m.role == "owner"), None)


async def claim(session: AsyncSession, *, user: User, account_id: int, via: str) -> list[int]:
    """`user` proved through a Meta login that they control the account: they become its
    owner, and every other member is suspended until the owner keeps them. A login by the
    owner themselves (a reconnect) changes nothing. The ids of those suspended."""
    if await repository.role_of(session, user.id, account_id) == "owner":
        return []
    suspended = []
    for member, other in await repository.members_of(session, account_id):
        if other.id != user.id and member.role != SUSPENDED:
            await set_membership(
                session, actor=user, user=other, account_id=account_id, role=SUSPENDED
            )
            suspended.append(other.id)
    await set_membership(session, actor=user, user=user, account_id=account_id, role="owner")
    await record(
        session,
        action="account.claimed",
        user=user,
        account_id=account_id,
        details={"via": via, "owner_user_id": user.id, "suspended_user_ids": suspended},
    )
    return suspended


async def _target(session: AsyncSession, *, actor: User, account_id: int, user_id: int) -> User:
    await ensure_access(session, actor, account_id)
    await ensure_owner(session, actor, account_id, "who has access to the account")
    target = await session.get(User, user_id)
    if target is None or await repository.role_of(session, user_id, account_id) is None:
        raise NotFound("this person is not a member of the account")
    return target


async def keep_member(session: AsyncSession, *, actor: User, account_id: int, user_id: int) -> None:
    """The owner keeps someone who was suspended when they claimed the account."""
    target = await _target(session, actor=actor, account_id=account_id, user_id=user_id)
    if await repository.role_of(session, user_id, account_id) == SUSPENDED:
        await set_membership(
            session, actor=actor, user=target, account_id=account_id, role="moderator"
        )


async def remove_member(
    session: AsyncSession, *, actor: User, account_id: int, user_id: int
) -> None:
    target = await _target(session, actor=actor, account_id=account_id, user_id=user_id)
    if await repository.role_of(session, user_id, account_id) == "owner":
        raise AppError("the owner cannot be removed; hand the account over first", 409)
    await set_membership(session, actor=actor, user=target, account_id=account_id, role=None)


async def hand_over(session: AsyncSession, *, actor: User, account_id: int, user_id: int) -> None:
    """Makes another member the owner; the previous owner stays, as a moderator."""
    target = await _target(session, actor=actor, account_id=account_id, user_id=user_id)
    if not target.is_active:
        raise AppError("a deactivated user cannot own an account", 409)
    if await repository.role_of(session, user_id, account_id) == "owner":
        return
    previous = await owner_email(session, account_id)
    await set_membership(session, actor=actor, user=target, account_id=account_id, role="owner")
    await record(
        session,
        action="account.owner_changed",
        user=actor,
        account_id=account_id,
        details={"from": previous, "to": target.email},
    )
