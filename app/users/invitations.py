"""Invitation links: an admin invites a new person by email; the link carries a random
token (only its hash is stored), works once, and expires after a week.

The token travels in the link's fragment (`/invite#inv_...`), which browsers never send:
it reaches the server only in the body of a form post, so no access log, proxy log or
trace holds it, and a link scanner that opens the link learns nothing and uses nothing up.
Opening the invitation (the post that shows the form) uses nothing either; accepting it
does, once."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.core.clock import utc_now
from app.core.crypto import hash_api_token, hash_password
from app.core.db import end_transaction
from app.errors import AppError, Conflict, NotFound
from app.models import Account, Invitation, User
from app.users import repository
from app.users.service import ROLES, check_new_password, create_user

INVITATION_LIFETIME = timedelta(days=7)


class InvitationGone(AppError):
    """The link was real but cannot be used any more (410, not 404)."""

    status_code = 410


def invitation_link(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/invite#{token}"


async def create_invitation(
    session: AsyncSession,
    *,
    admin: User | None,
    email: str,
    role: str,
    account_ids: Sequence[int] = (),
) -> tuple[str, Invitation]:
    """Returns the token (shown once, never stored) and the invitation. `admin` None means
    the command line."""
    email = email.strip().lower()
    if role not in ROLES:
        raise AppError(f"role must be one of {', '.join(ROLES)}")
    if "@" not in email or len(email) > 320 or not email.isprintable():
        raise AppError("email is not valid")
    if await repository.get_by_email(session, email) is not None:
        raise Conflict(f"a user with email {email} exists already")
    ids = sorted(set(account_ids))
    for account_id in ids:
        if await session.get(Account, account_id) is None:
            raise NotFound(f"account {account_id} not found")
    for earlier in await pending_invitations(session, email=email):
        # A new link replaces a lost one: only the newest invitation of an email works.
        await revoke_invitation(session, admin=admin, invitation_id=earlier.id)
    token = "inv_" + secrets.token_urlsafe(32)
    invitation = Invitation(
        token_hash=hash_api_token(token),
        email=email,
        role=role,
        account_ids=ids,
        created_by_id=None if admin is None else admin.id,
        expires_at=utc_now() + INVITATION_LIFETIME,
    )
    session.add(invitation)
    await session.flush()
    await record(
        session,
        action="invitation.created",
        user=admin,
        entity=invitation,
        details={"email": email, "role": role, "account_ids": ids},
    )
    return token, invitation


async def pending_invitations(
    session: AsyncSession, *, email: str | None = None
) -> list[Invitation]:
    query = (
        select(Invitation)
        .where(
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > utc_now(),
        )
        .order_by(Invitation.id.desc())
    )
    if email is not None:
        query = query.where(Invitation.email == email)
    return list((await session.scalars(query)).all())


async def usable_invitation(session: AsyncSession, token: str) -> Invitation:
    """The invitation of a link: 404 if unknown, 410 if used, revoked or expired."""
    invitation = await session.scalar(
        select(Invitation).where(Invitation.token_hash == hash_api_token(token))
    )
    if invitation is None:
        raise NotFound("this invitation link is not valid; check that it was copied whole")
    if invitation.accepted_at is not None:
        raise InvitationGone("this invitation was used already; sign in instead")
    if invitation.revoked_at is not None:
        raise InvitationGone("this invitation was withdrawn; ask an admin for a new one")
    if invitation.expires_at <= utc_now():
        raise InvitationGone("this invitation has expired; ask an admin for a new one")
    return invitation


async def accept_invitation(
    session: AsyncSession, *, token: str, password: str, repeat: str
) -> User:
    """Creates the invited user. Single use even under a race: the invitation is claimed
    with a conditional update, and only the request that claimed it goes on."""
    check_new_password(password, repeat)
    # Hashed with no transaction open: on SQLite one holds the write lock, and on either
    # database a connection, for the ~0.1 s of the hash.
    await end_transaction(session)
    password_hash = await hash_password(password)
    invitation = await usable_invitation(session, token)
    now = utc_now()
    claimed = await session.execute(
        update(Invitation)
        .where(
            Invitation.id == invitation.id,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
        .values(accepted_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        raise InvitationGone("this invitation was used already; sign in instead")
    existing = await session.scalars(
        select(Account.id).where(Account.id.in_([int(i) for i in invitation.account_ids]))
    )
    user = await create_user(
        session,
        email=invitation.email,
        role=invitation.role,
        password=password,
        password_hash=password_hash,
        account_ids=list(existing.all()),
    )
    await record(
        session,
        action="invitation.accepted",
        user=user,
        entity=invitation,
        details={"email": user.email, "role": user.role},
    )
    return user


async def revoke_invitation(
    session: AsyncSession, *, admin: User | None, invitation_id: int
) -> None:
    invitation = await session.get(Invitation, invitation_id)
    if invitation is None:
        raise NotFound("no such invitation")
    if invitation.accepted_at is not None or invitation.revoked_at is not None:
        return
    invitation.revoked_at = utc_now()
    await record(
        session,
        action="invitation.revoked",
        user=admin,
        entity=invitation,
        details={"email": invitation.email},
    )
