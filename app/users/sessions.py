"""Browser sign-in: server-side sessions behind a random cookie token (only its hash is
stored), with a CSRF token per session for every state-changing form."""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.core.clock import utc_now
from app.core.crypto import hash_api_token, verify_password
from app.errors import AppError
from app.models import User, WebSession
from app.users import repository

COOKIE_NAME = "inboxpilot_session"
SESSION_LIFETIME = timedelta(days=7)
IDLE_TIMEOUT = timedelta(hours=12)


class SignInFailed(AppError):
    status_code = 401


async def sign_in(session: AsyncSession, *, email: str, password: str) -> tuple[str, WebSession]:
    """Checks the password; returns the cookie token and the new session."""
    user = await repository.get_by_email(session, email)
    if user is None or not user.is_active or not verify_password(user.password_hash, password):
        await record(session, action="user.sign_in_failed", details={"email": email.lower()[:320]})
        raise SignInFailed("email or password is wrong")
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
    await record(session, action="user.signed_in", user=user)
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
    return submitted is not None and hmac.compare_digest(web_session.csrf_token, submitted)


async def sign_out(session: AsyncSession, token: str | None) -> None:
    if token:
        await session.execute(
            delete(WebSession).where(WebSession.token_hash == hash_api_token(token))
        )
