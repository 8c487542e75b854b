"""SQL of the alerts: choices, push subscriptions, what was notified, what is waiting."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, delete, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import insert_ignore
from app.models import (
    Account,
    AlertSettings,
    Contact,
    Conversation,
    Draft,
    DraftStatus,
    Message,
    NotifiedItem,
    PushSubscription,
    User,
)

NEEDS_RECONNECT = "needs_reconnect"


@dataclass(frozen=True, slots=True)
class WaitingDraft:
    """A pending draft as an alert shows it: no more of the follower than needed."""

    draft_id: int
    account_id: int
    account_name: str
    created_at: datetime
    reasons: list[Any]
    contact_name: str | None
    contact_username: str | None
    contact_external_id: str
    follower_text: str | None


def _visible(column: Any, account_ids: Sequence[int] | None) -> Any:
    return literal(True) if account_ids is None else column.in_(account_ids)


async def get_settings(session: AsyncSession, user_id: int) -> AlertSettings | None:
    return await session.get(AlertSettings, user_id)


async def people_with_alerts(session: AsyncSession) -> list[tuple[User, AlertSettings]]:
    """Active people with at least one alert turned on."""
    rows = await session.execute(
        select(User, AlertSettings)
        .join(AlertSettings, AlertSettings.user_id == User.id)
        .where(
            User.is_active,
            AlertSettings.waiting_minutes.is_not(None)
            | AlertSettings.is_sensitive_on
            | AlertSettings.is_reconnect_on,
        )
        .order_by(User.id)
    )
    return [(user, alerts) for user, alerts in rows.all()]


async def pending_drafts(
    session: AsyncSession, account_ids: Sequence[int] | None
) -> list[WaitingDraft]:
    rows = await session.execute(
        select(
            Draft.id,
            Draft.account_id,
            Account.name,
            Draft.created_at,
            Draft.reasons,
            Contact.name,
            Contact.username,
            Contact.external_id,
            Message.text,
        )
        .join(Account, Account.id == Draft.account_id)
        .join(Conversation, Conversation.id == Draft.conversation_id)
        .join(Contact, Contact.id == Conversation.contact_id)
        .outerjoin(Message, Message.id == Draft.reply_to_message_id)
        .where(Draft.status == DraftStatus.PENDING, _visible(Draft.account_id, account_ids))
        .order_by(Draft.created_at, Draft.id)
    )
    return [WaitingDraft(*row) for row in rows.all()]


async def count_pending(session: AsyncSession, account_ids: Sequence[int] | None) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(Draft)
        .where(Draft.status == DraftStatus.PENDING, _visible(Draft.account_id, account_ids))
    )
    return int(count or 0)


async def accounts_needing_reconnect(
    session: AsyncSession, account_ids: Sequence[int] | None
) -> list[Account]:
    accounts = await session.scalars(
        select(Account)
        .where(Account.status == NEEDS_RECONNECT, _visible(Account.id, account_ids))
        .order_by(Account.id)
    )
    return list(accounts)


async def notified_keys(session: AsyncSession, user_id: int, channel: str) -> set[str]:
    keys = await session.scalars(
        select(NotifiedItem.item_key).where(
            NotifiedItem.user_id == user_id, NotifiedItem.channel == channel
        )
    )
    return set(keys)


async def record_notified(
    session: AsyncSession,
    *,
    user_id: int,
    channel: str,
    items: Iterable[tuple[str, str]],
    at: datetime,
) -> None:
    """Records (kind, key) pairs as told; a pair already recorded is skipped."""
    rows = [
        {"user_id": user_id, "channel": channel, "kind": kind, "item_key": key, "notified_at": at}
        for kind, key in items
    ]
    if rows:
        statement = insert_ignore(
            session, NotifiedItem.__table__, ["user_id", "channel", "item_key"]
        )
        await session.execute(statement, rows)


async def forget_reconnected(session: AsyncSession) -> None:
    """An account working again may need reconnecting again later: tell people again then."""
    working = select(literal("account:") + cast(Account.id, String)).where(
        Account.status != NEEDS_RECONNECT
    )
    await session.execute(
        delete(NotifiedItem).where(
            NotifiedItem.kind == "reconnect", NotifiedItem.item_key.in_(working)
        )
    )


async def forget_decided(session: AsyncSession, before: datetime) -> None:
    """Drafts no longer pending cannot be alerted again: their records may go, once old."""
    pending = select(literal("draft:") + cast(Draft.id, String)).where(
        Draft.status == DraftStatus.PENDING
    )
    await session.execute(
        delete(NotifiedItem).where(
            NotifiedItem.kind != "reconnect",
            NotifiedItem.notified_at < before,
            NotifiedItem.item_key.not_in(pending),
        )
    )


async def subscriptions_of(session: AsyncSession, user_id: int) -> list[PushSubscription]:
    found = await session.scalars(
        select(PushSubscription)
        .where(PushSubscription.user_id == user_id)
        .order_by(PushSubscription.id)
    )
    return list(found)


async def subscription_by_endpoint(session: AsyncSession, endpoint: str) -> PushSubscription | None:
    found: PushSubscription | None = await session.scalar(
        select(PushSubscription).where(PushSubscription.endpoint == endpoint)
    )
    return found


async def delete_subscriptions(session: AsyncSession, ids: Sequence[int]) -> None:
    if ids:
        await session.execute(delete(PushSubscription).where(PushSubscription.id.in_(ids)))
