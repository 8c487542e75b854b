"""What each person is told: their choices, and the digest of what is new for them.

A digest holds drafts waiting longer than the person's minutes, drafts queued because
the follower's message is sensitive, and accounts that need reconnecting, only for the
accounts the person can see, and only what was not already told through that channel
(`notified_items`). Followers appear as a label and the first words of their message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.schemas import reconnect_path
from app.errors import AppError
from app.models import AlertSettings, PushSubscription, User
from app.notifications import repository
from app.notifications.repository import WaitingDraft
from app.policy.reasons import ReasonCode, reason_of
from app.users.service import visible_account_ids

# What the page offers for "waiting longer than"; the first is preselected when off.
WAITING_CHOICES = (15, 30, 60, 120, 240)
DEFAULT_WAITING_MINUTES = 30
EXCERPT_CHARS = 80


class Kind(StrEnum):
    WAITING = "waiting"
    SENSITIVE = "sensitive"
    RECONNECT = "reconnect"


class Channel(StrEnum):
    EMAIL = "email"
    PUSH = "push"


class ChoiceRejected(AppError):
    status_code = 422


@dataclass(frozen=True, slots=True)
class Choices:
    waiting_minutes: int | None = None
    sensitive: bool = False
    reconnect: bool = False

    @property
    def any(self) -> bool:
        return self.waiting_minutes is not None or self.sensitive or self.reconnect


@dataclass(frozen=True, slots=True)
class Item:
    kind: Kind
    key: str
    account_name: str
    link: str  # a path under PUBLIC_URL
    follower: str = ""
    excerpt: str = ""
    since: datetime | None = None


@dataclass(slots=True)
class Digest:
    user_id: int
    email: str
    items: list[Item] = field(default_factory=list)

    def of(self, kind: Kind) -> list[Item]:
        return [item for item in self.items if item.kind is kind]

    @property
    def summary(self) -> str:
        """One line, e.g. "2 sensitive messages, 3 drafts waiting"."""
        parts = []
        for kind, one, many in _SUMMARY:
            n = len(self.of(kind))
            if n:
                parts.append(f"{n} {one if n == 1 else many}")
        return ", ".join(parts)


_SUMMARY = (
    (Kind.SENSITIVE, "sensitive message", "sensitive messages"),
    (Kind.WAITING, "draft waiting", "drafts waiting"),
    (Kind.RECONNECT, "account to reconnect", "accounts to reconnect"),
)


def choices_of(alerts: AlertSettings | None) -> Choices:
    if alerts is None:
        return Choices()
    return Choices(alerts.waiting_minutes, alerts.is_sensitive_on, alerts.is_reconnect_on)


async def get_choices(session: AsyncSession, user: User) -> Choices:
    return choices_of(await repository.get_settings(session, user.id))


async def save_choices(session: AsyncSession, *, user: User, choices: Choices) -> None:
    if choices.waiting_minutes is not None and choices.waiting_minutes not in WAITING_CHOICES:
        raise ChoiceRejected("choose one of the offered waiting times")
    alerts = await repository.get_settings(session, user.id)
    if alerts is None:
        alerts = AlertSettings(user_id=user.id)
        session.add(alerts)
    alerts.waiting_minutes = choices.waiting_minutes
    alerts.is_sensitive_on = choices.sensitive
    alerts.is_reconnect_on = choices.reconnect
    await session.flush()


async def pending_count(session: AsyncSession, user: User) -> int:
    """Drafts waiting for a person in the accounts the user can see."""
    return await repository.count_pending(session, await visible_account_ids(session, user))


# --- push subscriptions ------------------------------------------------------------------


async def subscribe(
    session: AsyncSession, *, user: User, endpoint: str, p256dh: str, auth: str
) -> None:
    """Saves one browser's subscription; the same browser subscribing again replaces it
    (also when another person signs in on it: the browser is theirs now)."""
    found = await repository.subscription_by_endpoint(session, endpoint)
    if found is None:
        session.add(PushSubscription(user_id=user.id, endpoint=endpoint, p256dh=p256dh, auth=auth))
    else:
        found.user_id, found.p256dh, found.auth = user.id, p256dh, auth
    await session.flush()


async def unsubscribe(session: AsyncSession, *, user: User, endpoint: str) -> None:
    found = await repository.subscription_by_endpoint(session, endpoint)
    if found is not None and found.user_id == user.id:
        await repository.delete_subscriptions(session, [found.id])


async def subscription_count(session: AsyncSession, user: User) -> int:
    return len(await repository.subscriptions_of(session, user.id))


# --- digests -----------------------------------------------------------------------------


def follower_label(draft: WaitingDraft) -> str:
    if draft.contact_username:
        return f"@{draft.contact_username}"
    if draft.contact_name:
        return draft.contact_name
    return f"Follower …{draft.contact_external_id[-4:]}"


def excerpt(text: str | None) -> str:
    words = " ".join((text or "").split())
    if len(words) <= EXCERPT_CHARS:
        return words
    return words[: EXCERPT_CHARS - 1].rstrip() + "…"


def is_sensitive(reasons: list[Any]) -> bool:
    for reason in reasons:
        if isinstance(reason, str) and reason_of(reason).code is ReasonCode.SENSITIVE:
            return True
        if isinstance(reason, dict) and reason.get("code") == "sensitive":
            return True
    return False


def _draft_item(kind: Kind, draft: WaitingDraft) -> Item:
    return Item(
        kind=kind,
        key=f"draft:{draft.draft_id}",
        account_name=draft.account_name,
        link=f"/queue#draft-{draft.draft_id}",
        follower=follower_label(draft),
        excerpt=excerpt(draft.follower_text),
        since=draft.created_at,
    )


async def new_items(
    session: AsyncSession, *, user: User, choices: Choices, channel: Channel, now: datetime
) -> list[Item]:
    """What is due and was not yet told to `user` through `channel`."""
    ids = await visible_account_ids(session, user)
    told = await repository.notified_keys(session, user.id, channel)
    items: list[Item] = []
    if choices.sensitive or choices.waiting_minutes is not None:
        cutoff = None
        if choices.waiting_minutes is not None:
            cutoff = now - timedelta(minutes=choices.waiting_minutes)
        for draft in await repository.pending_drafts(session, ids):
            if f"draft:{draft.draft_id}" in told:
                continue
            if choices.sensitive and is_sensitive(draft.reasons):
                items.append(_draft_item(Kind.SENSITIVE, draft))
            elif cutoff is not None and draft.created_at <= cutoff:
                items.append(_draft_item(Kind.WAITING, draft))
    if choices.reconnect:
        for account in await repository.accounts_needing_reconnect(session, ids):
            if f"account:{account.id}" not in told:
                items.append(
                    Item(
                        kind=Kind.RECONNECT,
                        key=f"account:{account.id}",
                        account_name=account.name,
                        link=reconnect_path(account.connected_via, account.graph_host),
                    )
                )
    return items


async def record_told(
    session: AsyncSession, *, digest: Digest, channel: Channel, now: datetime
) -> None:
    await repository.record_notified(
        session,
        user_id=digest.user_id,
        channel=channel,
        items=[(item.kind.value, item.key) for item in digest.items],
        at=now,
    )
    if channel is Channel.EMAIL:
        alerts = await repository.get_settings(session, digest.user_id)
        if alerts is not None:
            alerts.last_digest_at = now
