"""Browser sign-in: server-side sessions behind a random cookie token (only its hash is
stored), with a CSRF token per session for every state-changing form.

Attempts are counted per email and client address before the password is checked (see
app/users/attempts.py), in the database, so every web process sees the same counts. The
check itself runs in the password thread pool with no transaction open, so a flood of
sign-ins neither stalls the event loop nor holds a lock."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.core.clock import utc_now
from app.core.crypto import hash_api_token, same_secret, verify_no_password, verify_password
from app.core.db import end_transaction
from app.errors import AppError
from app.models import User, WebSession
from app.users import attempts, repository

COOKIE_NAME = "inboxpilot_session"
SESSION_LIFETIME = timedelta(days=7)
IDLE_TIMEOUT = timedelta(hours=12)


class SignInFailed(AppError):
    status_code = 401


def normalize_email(email: str) -> str:
    return email.strip().lower()[:320]


async def sign_in(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    address: str,
    previous_token: str | None = None,
) -> tuple[str, WebSession]:
    """Checks the password; returns the cookie token and the new session, and ends the
    browser's previous session (`previous_token`, its cookie). Raises TooManyAttempts,
    before the password is even looked at, while the email or address must wait."""
    email = normalize_email(email)
    if not email.isprintable():
        # No stored email has a control character, and PostgreSQL cannot even look up a NUL.
        raise SignInFailed("email or password is wrong")
    user = await repository.get_by_email(session, email)
    user_id = None if user is None else user.id
    keys = await attempts.password_keys(session, email=email, address=address, user_id=user_id)
    await attempts.reserve(session, keys)
    await end_transaction(session)
    # An unknown email costs a hash check too, so timing does not tell which emails exist.
    if user is None:
        right = await verify_no_password(password)
    else:
        right = await verify_password(user.password_hash, password)
    if not right or user is None or not user.is_active:
        if user is not None:
            details = {"email": email, "address": address}
            await record(session, action="user.sign_in_failed", details=details)
        raise SignInFailed("email or password is wrong")
    await attempts.succeeded(session, keys)
    await sign_out(session, previous_token)
    return await start_session(session, user=user, address=address)


async def start_session(
    session: AsyncSession, *, user: User, via: str | None = None, address: str | None = None
) -> tuple[str, WebSession]:
    """A new signed-in browser for the user; returns the cookie token and the session. The
    address is recorded: the user's later sign-ins from it skip the per-email slowdown."""
    token = secrets.token_urlsafe(32)
    now = utc_now()
    web_session = WebSession(
        token_hash=hash_api_token(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(24),
        expires_at=now + SESSION_LIFETIME,
        last_seen_at=now,
    )
    session.add(web_session)
    await session.flush()
    details = {key: value for key, value in (("via", via), ("address", address)) if value}
    await record(session, action="user.signed_in", user=user, details=details or None)
    return token, web_session


async def resolve(session: AsyncSession, token: str | None) -> tuple[User, WebSession] | None:
    """The signed-in user of a cookie token, or None if absent, unknown, expired or idle."""
    if not token:
        return None
    row = (
        await session.execute(
            select(User, WebSession)
            .join(WebSession, WebSession.user_id == User.id)
            .where(WebSession.token_hash == hash_api_token(token))
        )
    ).first()
    if row is None:
        return None
    user, web_session = row[0], row[1]
    now = utc_now()
    if (
        not user.is_active
        or web_session.expires_at <= now
        or now - web_session.last_seen_at > IDLE_TIMEOUT
    ):
        return None
    if now - web_session.last_seen_at > timedelta(minutes=1):
        web_session.last_seen_at = now
    return user, web_session


def csrf_valid(web_session: WebSession, submitted: str | None) -> bool:
    return submitted is not None and same_secret(web_session.csrf_token, submitted)


async def sign_out(session: AsyncSession, token: str | None) -> None:
    if token:
        await session.execute(
            delete(WebSession).where(WebSession.token_hash == hash_api_token(token))
        )


async def end_sessions(session: AsyncSession, *, user_id: int, keep_id: int | None = None) -> int:
    """Signs the user out everywhere (but the session `keep_id`); returns how many ended."""
    query = delete(WebSession).where(WebSession.user_id == user_id)
    if keep_id is not None:
        query = query.where(WebSession.id != keep_id)
    result = await session.execute(query)
    return int(getattr(result, "rowcount", 0) or 0)
