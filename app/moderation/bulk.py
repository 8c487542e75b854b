"""Deciding many drafts with one action: a group of near-identical questions, or the
drafts a moderator selected. Each draft goes through `approve` / `reject` by itself, in
its own savepoint: one that someone else handled meanwhile is reported (never sent a
second time) and does not undo the others."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.errors import AppError, Conflict, NotFound
from app.models import User
from app.moderation import desk
from app.moderation.service import (
    DraftOutcome,
    QueueCard,
    approve,
    draft_outcome,
    reject,
)

MAX_BULK = 500


class BulkAction(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


@dataclass(slots=True)
class BulkResult:
    action: BulkAction
    decided: list[DraftOutcome] = field(default_factory=list)
    # Decided by someone (or something) else first: nothing was sent by this action.
    already: list[DraftOutcome] = field(default_factory=list)
    # Refused by the rules (e.g. a reply too long to send): still waiting, with the reason.
    failed: dict[int, str] = field(default_factory=dict)
    missing: list[int] = field(default_factory=list)

    @property
    def outcomes(self) -> list[DraftOutcome]:
        return [*self.decided, *self.already]


async def decide_many(
    session: AsyncSession,
    settings: Settings,
    *,
    user: User,
    draft_ids: Sequence[int],
    action: BulkAction,
    reason: str | None = None,
) -> BulkResult:
    result = BulkResult(action)
    for draft_id in dict.fromkeys(draft_ids):  # each once, in the order given
        try:
            async with session.begin_nested():
                if action == BulkAction.APPROVE:
                    await approve(session, settings, user=user, draft_id=draft_id, text=None)
                else:
                    await reject(session, user=user, draft_id=draft_id, reason=reason)
        except NotFound:
            result.missing.append(draft_id)
            continue
        except Conflict:
            result.already.append(await draft_outcome(session, user=user, draft_id=draft_id))
            continue
        except AppError as exc:
            result.failed[draft_id] = exc.message
            continue
        result.decided.append(await draft_outcome(session, user=user, draft_id=draft_id))
    return result


@dataclass(slots=True)
class CardGroup:
    """Drafts answering near-identical questions with the same reply, shown as one card."""

    cards: list[QueueCard]

    @property
    def lead(self) -> QueueCard:
        return self.cards[0]

    @property
    def key(self) -> str:
        return f"group-{self.lead.draft.id}"

    @property
    def ids(self) -> str:
        return ",".join(str(card.draft.id) for card in self.cards)


def grouped(cards: Sequence[QueueCard]) -> list[QueueCard | CardGroup]:
    """The queue with each group of two or more in place of its first member."""
    items = [
        (
            index,
            desk.reply_key(card.draft.text, card.contact),
            desk.message_key(card.question.text if card.question else None),
            f"{card.draft.account_id}:{card.draft.language}",
        )
        for index, card in enumerate(cards)
    ]
    shown: list[QueueCard | CardGroup] = []
    for members in desk.group_indexes(items):
        if len(members) == 1:
            shown.append(cards[members[0]])
        else:
            shown.append(CardGroup([cards[i] for i in members]))
    return shown
