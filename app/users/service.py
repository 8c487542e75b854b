"""Users, their API tokens and which accounts they may see."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.core.clock import utc_now
from app.core.crypto import hash_api_token, hash_password, new_api_token, verify_password
from app.core.db import end_transaction
from app.errors import AppError, Conflict, Forbidden, NotFound
from app.models import Account, AccountMember, ApiToken, User
from app.users import attempts, repository
from app.users.sessions import end_sessions

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
    owner: bool = False,
    password_hash: str | None = None,
) -> User:
    """`owner`: the user becomes the owner of each of `account_ids` (their previous owner a
    moderator member), as `inboxpilot users create ... --owner` asks. `password_hash`:
    `password` hashed already, outside any transaction (hashing takes ~0.1 s, and on
    SQLite an open transaction holds the database's write lock)."""
    email = email.strip().lower()
    if role not in ROLES:
        raise AppError(f"role must be one of {', '.join(ROLES)}")
    # isprintable: no NUL or control characters, which PostgreSQL would refuse with a 500.
    if "@" not in email or not email.isprintable():
        raise AppError("email is not valid")
    if len(password) < 8:
        raise AppError("password must have at least 8 characters")
    if owner and not account_ids:
        raise AppError("an owner needs the account it owns (--account)")
    if await repository.get_by_email(session, email) is not None:
        raise Conflict(f"a user with email {email} exists already")
    if password_hash is None:
        password_hash = await hash_password(password)
    user = User(email=email, role=role, password_hash=password_hash)
    session.add(user)
    await session.flush()
    for account_id in account_ids:
        if owner:
            if await session.get(Account, account_id) is None:
                raise NotFound(f"account {account_id} not found")
            await _set_membership(
                session, actor=None, user=user, account_id=account_id, role="owner"
            )
        else:
            await add_member(session, user=user, account_id=account_id)
    await session.flush()
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


# --- people: passwords, activation, roles and memberships -------------------------------

MIN_PASSWORD_LENGTH = 10
MEMBER_ROLES = ("owner", "moderator")
# Kept out of the account until its owner keeps them: set by a Meta-proven connect only.
SUSPENDED = repository.SUSPENDED


class PasswordRejected(AppError):
    status_code = 400


def check_new_password(password: str, repeat: str) -> None:
    if password != repeat:
        raise PasswordRejected("the two new passwords are not the same")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordRejected(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")


@dataclass(frozen=True)
class PasswordChanged:
    sessions_ended: int
    api_tokens_revoked: int


async def change_password(
    session: AsyncSession,
    *,
    user: User,
    keep_session_id: int,
    current: str,
    new: str,
    repeat: str,
    address: str,
    revoke_api_tokens: bool = False,
) -> PasswordChanged:
    """Sets a new password and signs out every other browser of the user (someone who
    learnt the old password may be signed in), and revokes the user's API tokens if asked.
    A wrong current password counts like a failed sign-in (TooManyAttempts once the email
    or address must wait); both hashes run in the password pool with no transaction open."""
    check_new_password(new, repeat)
    keys = await attempts.password_keys(session, email=user.email, address=address, user_id=user.id)
    await attempts.reserve(session, keys)
    await end_transaction(session)
    if not await verify_password(user.password_hash, current):
        details = {"email": user.email, "address": address, "via": "password_change"}
        await record(session, action="user.sign_in_failed", user=user, details=details)
        raise PasswordRejected("the current password is wrong")
    new_hash = await hash_password(new)
    await attempts.succeeded(session, keys)
    user.password_hash = new_hash
    ended = await end_sessions(session, user_id=user.id, keep_id=keep_session_id)
    revoked = 0
    if revoke_api_tokens:
        revoked = await repository.revoke_api_tokens(session, user.id, utc_now())
    await record(
        session,
        action="user.password_changed",
        user=user,
        entity=user,
        details={"other_sessions_signed_out": ended, "api_tokens_revoked": revoked},
    )
    return PasswordChanged(ended, revoked)


@dataclass(frozen=True)
class Person:
    user: User
    # account id -> owner | moderator
    memberships: dict[int, str]


async def list_people(session: AsyncSession) -> list[Person]:
    by_user: dict[int, dict[int, str]] = {}
    for member in await repository.memberships(session):
        by_user.setdefault(member.user_id, {})[member.account_id] = member.role
    return [Person(u, by_user.get(u.id, {})) for u in await repository.list_users(session)]


async def get_person(session: AsyncSession, user_id: int) -> Person:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("no such user")
    members = await repository.memberships(session, user_id)
    return Person(user, {m.account_id: m.role for m in members})


async def set_active(session: AsyncSession, *, admin: User, user_id: int, active: bool) -> User:
    """Deactivating signs the user out everywhere and revokes their API tokens for good
    (reactivating does not bring the tokens back)."""
    user = (await get_person(session, user_id)).user
    if user.id == admin.id:
        raise Forbidden("you cannot deactivate or reactivate yourself")
    if user.is_active == active:
        return user
    user.is_active = active
    details: dict[str, Any] = {"email": user.email}
    if not active:
        details["sessions_ended"] = await end_sessions(session, user_id=user.id)
        details["api_tokens_revoked"] = await repository.revoke_api_tokens(
            session, user.id, utc_now()
        )
    action = "user.reactivated" if active else "user.deactivated"
    await record(session, action=action, user=admin, entity=user, details=details)
    return user


async def update_access(
    session: AsyncSession,
    *,
    admin: User,
    user_id: int,
    role: str,
    memberships: Mapping[int, str],
) -> Person:
    """Sets the user's role and exactly these memberships (account id -> owner|moderator).
    An account has one owner: marking a new one makes the previous owner a moderator."""
    if role not in ROLES:
        raise AppError(f"role must be one of {', '.join(ROLES)}")
    person = await get_person(session, user_id)
    for account_id, wanted in memberships.items():
        # A suspended membership may be left as it is, never set: that is the owner's call.
        unchanged = wanted == SUSPENDED == person.memberships.get(account_id)
        if wanted not in MEMBER_ROLES and not unchanged:
            raise AppError(f"a membership is one of {', '.join(MEMBER_ROLES)}")
    user = person.user
    if role != user.role and user.id == admin.id:
        raise Forbidden("you cannot change your own role; ask another admin")
    for account_id in memberships:
        if await session.get(Account, account_id) is None:
            raise NotFound(f"account {account_id} not found")
    # Everything is checked above: from here on nothing fails half-way.
    if role != user.role:
        await record(
            session,
            action="user.role_changed",
            user=admin,
            entity=user,
            details={"email": user.email, "from": user.role, "to": role},
        )
        user.role = role
    for account_id in sorted(set(person.memberships) | set(memberships)):
        before, after = person.memberships.get(account_id), memberships.get(account_id)
        if before != after:
            await _set_membership(
                session, actor=admin, user=user, account_id=account_id, role=after
            )
    await session.flush()
    return await get_person(session, user_id)


async def set_membership(
    session: AsyncSession, *, actor: User | None, user: User, account_id: int, role: str | None
) -> None:
    """Sets one membership (None removes it), audited as done by `actor` (None: the
    command line). An account has one owner: a new one makes the previous one a moderator."""
    await _set_membership(session, actor=actor, user=user, account_id=account_id, role=role)
    await session.flush()


async def _set_membership(
    session: AsyncSession, *, actor: User | None, user: User, account_id: int, role: str | None
) -> None:
    member = await session.get(AccountMember, (account_id, user.id))
    before = None if member is None else member.role
    if role == "owner":
        for other in await repository.owners_of(session, account_id):
            if other.user_id != user.id:
                other.role = "moderator"
                await record(
                    session,
                    action="user.membership_changed",
                    user=actor,
                    account_id=account_id,
                    details={"user_id": other.user_id, "from": "owner", "to": "moderator"},
                )
    if role is None:
        if member is not None:
            await session.delete(member)
    elif member is None:
        session.add(AccountMember(account_id=account_id, user_id=user.id, role=role))
    else:
        member.role = role
    await record(
        session,
        action="user.membership_changed",
        user=actor,
        account_id=account_id,
        entity=user,
        details={"email": user.email, "from": before, "to": role},
    )
