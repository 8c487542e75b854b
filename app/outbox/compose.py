"""What goes out for a reply, from the text a drafter or a person wrote.

One place between the reply and its outbound row, so every reply (automatic, approved,
written by hand, to a DM or to a comment) goes through the same steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.models import Account, Conversation, Draft, Product, User


@dataclass(frozen=True, slots=True)
class Outgoing:
    text: str  # what the follower receives
    codes_sent: list[int] = field(default_factory=list)  # products whose code it carries
    links_sent: list[int] = field(default_factory=list)  # products whose link it carries


async def compose(
    session: AsyncSession,
    settings: Settings,
    *,
    account: Account,
    conversation: Conversation,
    text: str,
    draft: Draft | None,
    user: User | None,
) -> Outgoing:
    """The reply as it goes out. `user` is None for a reply the bot sends alone."""
    del settings, conversation, draft, user  # the steps that follow will need them
    rows = (
        await session.execute(
            select(Product.id, Product.discount_code, Product.url).where(
                Product.account_id == account.id
            )
        )
    ).all()
    # The catalog's own spelling: grounding lets nothing else out automatically.
    return Outgoing(
        text=text,
        codes_sent=[r.id for r in rows if r.discount_code and r.discount_code in text],
        links_sent=[r.id for r in rows if r.url and r.url in text],
    )
