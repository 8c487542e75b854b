"""Saving an account that came through a Meta login, and what a reconnect undoes.

A reconnect is a login for an account we already have: the new token replaces the old
one, the account is active again, and the replies that failed because the token had died
go back into the queue (the window check in the send job still expires the stale ones).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.config import Settings
from app.core.clock import utc_now
from app.core.crypto import TokenCipher
from app.models import Account, Draft, DraftStatus, OutboundMessage, SendStatus, User
from app.policy.schemas import Policy
from app.users.members import claim
from app.worker.kinds import JobKind
from app.worker.queue import enqueue

log = structlog.get_logger("app.accounts")

# Why a send failed when the account, not the message, was the problem (app.outbox.jobs).
REQUEUE_ERROR_CODES = ("token_invalid", "account_needs_reconnect", "account_disconnected")


@dataclass(frozen=True, slots=True)
class Connection:
    """An account as a Meta login delivered it."""

    platform: str  # instagram | messenger
    external_id: str
    page_id: str | None
    graph_host: str  # facebook | instagram
    name: str
    username: str | None
    picture_url: str | None
    access_token: str = field(repr=False)
    token_expires_at: datetime | None
    connected_via: str  # facebook_login | instagram_login
    meta_user_id: str | None
    # Why comment triggers cannot work with what was granted (app.accounts.permissions).
    comments_problem: str | None = None


async def save_connection(
    session: AsyncSession,
    *,
    user: User,
    connection: Connection,
    cipher: TokenCipher,
    settings: Settings,
) -> Account:
    """Creates the account or updates the one we have. The user just proved through Meta
    that they control it: they become its owner, and whoever had access before is
    suspended until they keep them (`app.users.members.claim`)."""
    account = await session.scalar(
        select(Account)
        .where(
            Account.platform == connection.platform,
            Account.external_id == connection.external_id,
        )
        .with_for_update()
    )
    created = account is None
    if account is None:
        account = Account(
            platform=connection.platform,
            external_id=connection.external_id,
            policy=Policy().model_dump(),
            languages=["en"],
            persona="",
        )
        session.add(account)
    was_blocked = not created and account.status != "active"
    _apply(account, connection, cipher)
    await session.flush()
    suspended = await claim(session, user=user, account_id=account.id, via=connection.connected_via)
    requeued = await requeue_failed_sends(session, account_id=account.id, settings=settings)
    await record(
        session,
        action="account.connected" if created else "account.reconnected",
        user=user,
        account_id=account.id,
        entity=account,
        details={"via": connection.connected_via, "requeued_sends": requeued},
    )
    log.info(
        "accounts.connected",
        account_id=account.id,
        via=connection.connected_via,
        created=created,
        was_blocked=was_blocked,
        requeued_sends=requeued,
        suspended_members=len(suspended),
    )
    return account


def _apply(account: Account, connection: Connection, cipher: TokenCipher) -> None:
    now = utc_now()
    account.page_id = connection.page_id
    account.graph_host = connection.graph_host
    account.name = connection.name[:200]
    account.username = connection.username
    account.picture_url = connection.picture_url
    account.access_token_encrypted = cipher.encrypt(connection.access_token)
    account.connected_via = connection.connected_via
    account.meta_user_id = connection.meta_user_id
    account.token_expires_at = connection.token_expires_at
    account.token_refreshed_at = now
    account.token_checked_at = now
    account.status, account.status_reason = "active", None
    account.comments_problem = connection.comments_problem


async def requeue_failed_sends(
    session: AsyncSession, *, account_id: int, settings: Settings
) -> int:
    """Puts the replies that failed for lack of a working token back into the queue."""
    rows = (
        await session.scalars(
            select(OutboundMessage)
            .where(
                OutboundMessage.account_id == account_id,
                OutboundMessage.status == SendStatus.FAILED,
                OutboundMessage.error_code.in_(REQUEUE_ERROR_CODES),
            )
            .order_by(OutboundMessage.id)
            .with_for_update()
        )
    ).all()
    for outbound in rows:
        outbound.status, outbound.error_code, outbound.last_error = SendStatus.QUEUED, None, None
        if outbound.draft_id is not None:
            await session.execute(
                update(Draft)
                .where(Draft.id == outbound.draft_id)
                .values(status=DraftStatus.APPROVED, updated_at=utc_now())
                .execution_options(synchronize_session=False)
            )
        await enqueue(
            session,
            JobKind.SEND_REPLY,
            {"outbound_id": outbound.id},
            account_id=account_id,
            max_attempts=settings.JOB_MAX_ATTEMPTS,
        )
    return len(rows)


async def mark_needs_reconnect(session: AsyncSession, account: Account, *, reason: str) -> None:
    """Stops sending for the account until someone reconnects it; its queue stays."""
    account.status, account.status_reason = "needs_reconnect", reason[:500]
    await record(
        session,
        action="account.needs_reconnect",
        account_id=account.id,
        entity=account,
        details={"reason": reason[:500]},
    )
    log.warning("accounts.needs_reconnect", account_id=account.id, reason=reason[:200])


def flag_subscription_failure(account: Account, error: str) -> None:
    """The account works for sending, but Meta will not deliver its messages to us yet."""
    account.status_reason = f"Webhook subscription failed ({error[:300]}); reconnect to try again."
