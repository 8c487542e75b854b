"""Keeping stored access tokens alive and honest, and re-encrypting them with a new key.

The periodic job (`JobKind.MAINTAIN_TOKENS`, hourly, app/accounts/jobs.py) looks at every
active account with a token: Instagram-Login tokens that are at least 24 hours old and end
within 10 days are refreshed (Meta gives a new 60 days); once a day every token is checked
(`debug_token` for Facebook-Login tokens, `GET /me` for Instagram-Login ones). A dead token puts the
account into `needs_reconnect`: sending stops, the queue stays, the home page shows a
reconnect link. Meta being unreachable changes nothing: the next run tries again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accounts.linking import mark_needs_reconnect
from app.accounts.permissions import comments_problem
from app.core.clock import as_utc, utc_now
from app.core.crypto import TokenCipher
from app.core.db import unit_of_work
from app.meta import errors as graph_errors
from app.meta.oauth import MetaOAuthClient, TokenHealth
from app.models import Account, OAuthState

log = structlog.get_logger("app.accounts.tokens")

REFRESH_WITHIN = timedelta(days=10)
MIN_AGE_FOR_REFRESH = timedelta(hours=24)
# "About daily" with an hourly job: an hour of slack so a check never slips a whole day.
CHECK_EVERY = timedelta(hours=23)
# Permissions a Facebook-Login token must still have, by platform.
_NEEDED_SCOPES = {"messenger": "pages_messaging", "instagram": "instagram_manage_messages"}


class Unknown:
    """Meta did not say which permissions the token has: leave what we know as it is."""


UNKNOWN = Unknown()


@dataclass(frozen=True, slots=True)
class TokenSnapshot:
    """What the job read about one account, so that no transaction spans a Meta call."""

    account_id: int
    platform: str
    graph_host: str
    encrypted: str = field(repr=False)
    expires_at: datetime | None
    refreshed_at: datetime | None
    checked_at: datetime | None


async def active_with_tokens(session: AsyncSession) -> list[TokenSnapshot]:
    accounts = await session.scalars(
        select(Account)
        .where(Account.status == "active", Account.access_token_encrypted.is_not(None))
        .order_by(Account.id)
    )
    return [
        TokenSnapshot(
            account_id=a.id,
            platform=a.platform,
            graph_host=a.graph_host,
            encrypted=a.access_token_encrypted or "",
            expires_at=None if a.token_expires_at is None else as_utc(a.token_expires_at),
            refreshed_at=as_utc(a.token_refreshed_at or a.created_at),
            checked_at=None if a.token_checked_at is None else as_utc(a.token_checked_at),
        )
        for a in accounts
    ]


@dataclass(frozen=True, slots=True)
class TokenKeys:
    """Where the tokens are kept and the cipher they are kept with."""

    sessions: async_sessionmaker[AsyncSession]
    cipher: TokenCipher


async def maintain(
    keys: TokenKeys, oauth: MetaOAuthClient, snapshot: TokenSnapshot, now: datetime
) -> None:
    if snapshot.expires_at is not None and snapshot.expires_at <= now:
        await _save(keys, snapshot, dead="the access token expired")
        return
    refresh = _refresh_due(snapshot, now)
    if not refresh and snapshot.checked_at is not None and now - snapshot.checked_at < CHECK_EVERY:
        return
    try:
        token = keys.cipher.decrypt(snapshot.encrypted)
    except ValueError:
        # A key problem (SECRET_KEY changed without a fallback) is the operator's, not the
        # influencer's: say so in the log, leave the account as it is.
        log.error("accounts.token_undecryptable")
        return
    try:
        if refresh:
            fresh = await oauth.refresh_instagram_token(token)
            await _save(keys, snapshot, token=fresh.access_token, expires_at=fresh.expires_at)
            log.info("accounts.token_refreshed")
        else:
            problem, comments = await _check(oauth, snapshot, token)
            await _save(keys, snapshot, dead=problem, comments=comments)
    except (graph_errors.GraphTokenInvalid, graph_errors.GraphPermissionMissing) as exc:
        await _save(keys, snapshot, dead=f"{type(exc).__name__}: {exc}")
    except graph_errors.GraphError as exc:
        log.warning(
            "accounts.token_check_failed",
            error_class=type(exc).__name__,
            code=exc.code,
            fbtrace_id=exc.fbtrace_id,
        )


def _refresh_due(snapshot: TokenSnapshot, now: datetime) -> bool:
    return (
        snapshot.graph_host == "instagram"
        and snapshot.expires_at is not None
        and snapshot.expires_at - now <= REFRESH_WITHIN
        and snapshot.refreshed_at is not None
        and now - snapshot.refreshed_at >= MIN_AGE_FOR_REFRESH
    )


async def _check(
    oauth: MetaOAuthClient, snapshot: TokenSnapshot, token: str
) -> tuple[str | None, str | None | Unknown]:
    """(None when the token works, otherwise why the account must reconnect; why comment
    triggers cannot work, None when they can, `UNKNOWN` when Meta does not say)."""
    if snapshot.graph_host == "instagram":
        # /me lists no permissions: what the login granted stays as recorded then.
        await oauth.instagram_profile(token)  # raises GraphTokenInvalid for a dead token
        return None, UNKNOWN
    health: TokenHealth = await oauth.debug_token(token)
    if not health.is_valid:
        reason = health.reason or "Meta gave no reason"
        return f"the access token is no longer valid: {reason}", UNKNOWN
    if not health.scopes:
        return None, UNKNOWN
    needed = _NEEDED_SCOPES.get(snapshot.platform)
    if needed and needed not in health.scopes:
        return f"the permission {needed} was removed", UNKNOWN
    return None, comments_problem(snapshot.graph_host, snapshot.platform, health.scopes)


async def _save(
    keys: TokenKeys,
    snapshot: TokenSnapshot,
    *,
    dead: str | None = None,
    token: str | None = None,
    expires_at: datetime | None = None,
    comments: str | None | Unknown = UNKNOWN,
) -> None:
    """Records the outcome, unless the account changed meanwhile (say, it reconnected)."""
    async with unit_of_work(keys.sessions) as session:
        account = await session.get(Account, snapshot.account_id, with_for_update=True)
        if account is None or account.access_token_encrypted != snapshot.encrypted:
            return
        now = utc_now()
        account.token_checked_at = now
        if token is not None:
            account.access_token_encrypted = keys.cipher.encrypt(token)
            account.token_expires_at = expires_at
            account.token_refreshed_at = now
        if dead is not None and account.status == "active":
            await mark_needs_reconnect(session, account, reason=dead)
        if not isinstance(comments, Unknown) and comments != account.comments_problem:
            account.comments_problem = comments
            if comments is not None:
                log.warning("accounts.comment_permission_missing")


# --- key rotation --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rotation:
    accounts: int
    states: int
    undecryptable_account_ids: list[int]


async def reencrypt_tokens(session: AsyncSession, *, cipher: TokenCipher) -> Rotation:
    """Re-encrypts every stored token with the cipher's first key.

    `cipher` must know the old keys too (SECRET_KEY_FALLBACKS). A token no key opens is
    left untouched and reported; pending login choices no key opens are dropped (the
    influencer just logs in again).
    """
    accounts = await session.scalars(
        select(Account).where(Account.access_token_encrypted.is_not(None)).order_by(Account.id)
    )
    done, failed = 0, []
    for account in accounts:
        try:
            plaintext = cipher.decrypt(account.access_token_encrypted or "")
        except ValueError:
            failed.append(account.id)
            continue
        account.access_token_encrypted = cipher.encrypt(plaintext)
        done += 1
    states = 0
    for state in await session.scalars(
        select(OAuthState).where(OAuthState.payload_encrypted.is_not(None))
    ):
        try:
            payload = json.loads(cipher.decrypt(state.payload_encrypted or ""))
        except ValueError:
            state.payload_encrypted = None
            continue
        state.payload_encrypted = cipher.encrypt(json.dumps(payload))
        states += 1
    await session.flush()
    return Rotation(accounts=done, states=states, undecryptable_account_ids=failed)
