"""OAuth `state`: random, signed, bound to the signed-in user, single-use, short-lived.

The value sent to Meta is `{id}.{signature}`: the id names the stored `OAuthState`, the
HMAC (a key derived from SECRET_KEY) turns away forged values before any lookup. The
row says who started the login, for which flow, until when, and whether the callback
has been used; after a Facebook callback it also holds the fetched Pages, encrypted,
until the influencer has chosen which to connect.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.clock import as_utc, utc_now
from app.core.crypto import derive_key, same_secret
from app.errors import AppError
from app.models import OAuthState, User

FACEBOOK_LOGIN = "facebook_login"
INSTAGRAM_LOGIN = "instagram_login"
STATE_LIFETIME = timedelta(minutes=10)
# After the callback, how long the influencer has to pick the Pages to connect.
PICKER_LIFETIME = timedelta(minutes=30)

START_PATHS = {FACEBOOK_LOGIN: "/oauth/meta/start", INSTAGRAM_LOGIN: "/oauth/instagram/start"}


class ConnectFailed(AppError):
    """Connecting stopped. Rendered as a page: `title`, `message`, what to do (`hint`)."""

    def __init__(
        self,
        title: str,
        message: str,
        *,
        hint: str | None = None,
        status_code: int = 400,
        retry_path: str | None = None,
    ) -> None:
        super().__init__(message, status_code)
        self.title = title
        self.hint = hint
        self.retry_path = retry_path  # where "try again" leads, when trying again can help


def sign_state(settings: Settings, state_id: str) -> str:
    return f"{state_id}.{_signature(settings, state_id)}"


def _signature(settings: Settings, state_id: str) -> str:
    key = derive_key(settings.secret_key, "oauth-state")
    return hmac.new(key, state_id.encode(), hashlib.sha256).hexdigest()[:32]


def _state_id(settings: Settings, value: str | None) -> str | None:
    """The id inside a state value, if its signature is ours."""
    if not value or value.count(".") != 1:
        return None
    state_id, signature = value.split(".")
    if not state_id or not same_secret(signature, _signature(settings, state_id)):
        return None
    return state_id


async def create_state(session: AsyncSession, *, user: User, provider: str) -> OAuthState:
    state = OAuthState(
        id=secrets.token_urlsafe(32),
        user_id=user.id,
        provider=provider,
        expires_at=utc_now() + STATE_LIFETIME,
    )
    session.add(state)
    await session.flush()
    return state


async def claim_state(
    session: AsyncSession, *, user: User, provider: str, value: str | None, settings: Settings
) -> OAuthState:
    """The state of a callback, now used up; `ConnectFailed` for any state we must refuse."""
    state = await load_state(session, user=user, provider=provider, value=value, settings=settings)
    if state.used_at is not None:
        raise ConnectFailed(
            "This login was used already",
            "Meta sent us the answer to this login once before; an answer counts only once.",
            hint="Start connecting again.",
            retry_path=START_PATHS[provider],
        )
    if as_utc(state.expires_at) <= utc_now():
        raise ConnectFailed(
            "This login has expired",
            "More than 10 minutes passed between starting the login and Meta's answer.",
            hint="Start connecting again and finish within a few minutes.",
            retry_path=START_PATHS[provider],
        )
    state.used_at = utc_now()
    return state


async def load_state(
    session: AsyncSession, *, user: User, provider: str, value: str | None, settings: Settings
) -> OAuthState:
    """The state named by `value`, if it is genuine, of this flow and of this user."""
    state_id = _state_id(settings, value)
    state = None if state_id is None else await session.get(OAuthState, state_id)
    if state is None or state.provider != provider:
        raise ConnectFailed(
            "This login link is not valid",
            "The answer from Meta does not belong to a login started here.",
            hint="Start connecting from your accounts page.",
            retry_path=START_PATHS[provider],
        )
    if state.user_id != user.id:
        raise ConnectFailed(
            "This login belongs to someone else",
            "It was started by another inboxpilot user, so it cannot connect accounts for you.",
            hint="Sign in as the person who started it, or start connecting again yourself.",
            status_code=403,
            retry_path=START_PATHS[provider],
        )
    return state
