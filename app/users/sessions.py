"""Browser sign-in: server-side sessions behind a random cookie token (only its hash is
stored), with a CSRF token per session for every state-changing form.

Repeated failed sign-ins for one email slow further attempts down: the failures are counted
from the audit log, so every web process sees the same count without shared memory."""

from __future__ import annotations

import functools
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import activity_since, record, times_since
from app.core.clock import utc_now
from app.core.crypto import hash_api_token, hash_password, same_secret, verify_password
from app.errors import AppError
from app.models import User, WebSession
from app.users import repository

COOKIE_NAME = "inboxpilot_session"
SESSION_LIFETIME = timedelta(days=7)
IDLE_TIMEOUT = timedelta(hours=12)

# Five failures for one email within FAILURE_WINDOW start a slowdown: each further attempt
# waits FIRST_DELAY after the latest failure, doubling per failure up to MAX_DELAY. The
# slowdown ends with a successful sign-in, or when nobody tried for FAILURE_WINDOW after
# the wait was over.
FREE_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
FIRST_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(minutes=15)
LOOKBACK = timedelta(days=1)


class SignInFailed(AppError):
    status_code = 401


class SignInThrottled(AppError):
    status_code = 429

    def __init__(self, retry_at: datetime) -> None:
        super().__init__("too many failed sign-ins for this email; wait before trying again")
        self.retry_at = retry_at


def normalize_email(email: str) -> str:
    return email.strip().lower()[:320]


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def failure_delay(failures: int) -> timedelta:
    """The wait after the latest failure; zero while failures are below the free allowance."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    doublings = min(failures - FREE_FAILURES, 16)  # 2**16 * 30 s is far past the cap
    return min(FIRST_DELAY * (1 << doublings), MAX_DELAY)


def next_attempt_at(failures: Sequence[datetime]) -> datetime | None:
    """When the next attempt may be made after these failures (oldest first); None if the
    failures do not add up to a slowdown."""
    run: list[datetime] = []
    for at in failures:
        if len(run) >= FREE_FAILURES:
            if at - (run[-1] + failure_delay(len(run))) > FAILURE_WINDOW:
                run = []
        else:
            run = [t for t in run if at - t <= FAILURE_WINDOW]
        run.append(at)
    if len(run) < FREE_FAILURES:
        return None
    return run[-1] + failure_delay(len(run))


async def retry_allowed_at(session: AsyncSession, *, email: str) -> datetime | None:
    """When the next sign-in for this email may be tried, or None if it may be tried now.
    Only failures after the user's latest successful sign-in count."""
    now = utc_now()
    email = normalize_email(email)
    since = now - LOOKBACK
    user = await repository.get_by_email(session, email)
    if user is not None:
        _, last_success = await activity_since(
            session, action="user.signed_in", since=since, user_id=user.id
        )
        since = max(since, last_success or since)
    failures = await times_since(
        session, action="user.sign_in_failed", since=since, details={"email": email}
    )
    retry_at = next_attempt_at(failures)
    return retry_at if retry_at is not None and retry_at > now else None


async def sign_in(session: AsyncSession, *, email: str, password: str) -> tuple[str, WebSession]:
    """Checks the password; returns the cookie token and the new session. While the email
    is slowed down, the attempt is refused before the password is even looked at."""
    email = normalize_email(email)
    if not email.isprintable():
        # No stored email has a control character, and PostgreSQL cannot even look up a NUL.
        raise SignInFailed("email or password is wrong")
    retry_at = await retry_allowed_at(session, email=email)
    if retry_at is not None:
        raise SignInThrottled(retry_at)
    user = await repository.get_by_email(session, email)
    # An unknown email costs a hash check too, so timing does not tell which emails exist.
    password_hash = _dummy_hash() if user is None else user.password_hash
    if not verify_password(password_hash, password) or user is None or not user.is_active:
        await record(session, action="user.sign_in_failed", details={"email": email})
        raise SignInFailed("email or password is wrong")
    return await start_session(session, user=user)


async def start_session(
    session: AsyncSession, *, user: User, via: str | None = None
) -> tuple[str, WebSession]:
    """A new signed-in browser for the user; returns the cookie token and the session."""
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
    await record(session, action="user.signed_in", user=user, details={"via": via} if via else None)
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
