"""What goes out for a reply, from the text a drafter or a person wrote.

One place between the reply and its outbound row, so every reply (automatic, approved,
written by hand, to a DM or to a comment) goes through the same steps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.links.service import link_products
from app.models import Account, Conversation, Draft, Product, User
from app.outbox.disclosure import disclose


class CatalogLink(NamedTuple):
    """What composing needs of one of the account's products (active or not)."""

    id: int
    discount_code: str | None
    url: str | None


@dataclass(frozen=True, slots=True)
class Outgoing:
    text: str  # what the follower receives
    codes_sent: list[int] = field(default_factory=list)  # products whose code it carries
    links_sent: list[int] = field(default_factory=list)  # products whose link it carries
    disclosed: bool = False  # it ends with the line saying it was sent automatically
    # With `store_links=False`: new tracked links its text uses, for the caller to insert
    # with the reply ({product id: token}).
    new_links: dict[int, str] = field(default_factory=dict)


async def compose(
    session: AsyncSession,
    settings: Settings,
    *,
    account: Account,
    conversation: Conversation,
    text: str,
    draft: Draft | None,
    user: User | None,
    language: str | None = None,
    products: Sequence[CatalogLink] | None = None,
    told: bool | None = None,
    tokens: Mapping[int, str] | None = None,
    store_links: bool = True,
) -> Outgoing:
    """The reply as it goes out. `user` is None for a reply the bot sends alone;
    `language` is the reply's when it has no draft (else the draft's). A caller that read
    them already passes the account's `products`, whether the conversation was `told`
    its disclosure line, and its tracked links' `tokens` (else they are read here).
    `store_links=False`: the caller inserts the new tracked links (`Outgoing.new_links`);
    then `tokens` must hold every link the conversation has to the products the text
    links, as any product missing from it gets a new one."""
    rows = products if products is not None else await catalog_links(session, account.id)
    preferred = () if draft is None else draft.product_ids
    codes_sent = _codes_sent(text, [(r.id, r.discount_code) for r in rows], preferred)
    # Product links become the conversation's tracked links (app/links), if the account
    # tracks them; the draft keeps the catalog URL.
    links = await link_products(
        session,
        settings,
        account=account,
        conversation=conversation,
        text=text,
        products=[(r.id, r.url) for r in rows],
        preferred=preferred,
        known=tokens,
        store=store_links,
    )
    # Last: the line goes after everything else and counts within the length limit.
    text, disclosed = await disclose(
        session,
        account=account,
        conversation=conversation,
        text=links.text,
        draft=draft,
        user=user,
        language=language,
        told=told,
    )
    return Outgoing(
        text=text,
        codes_sent=codes_sent,
        links_sent=links.product_ids,
        disclosed=disclosed,
        new_links=links.new_tokens,
    )


async def catalog_links(session: AsyncSession, account_id: int) -> list[CatalogLink]:
    rows = await session.execute(
        select(Product.id, Product.discount_code, Product.url).where(
            Product.account_id == account_id
        )
    )
    return [CatalogLink(*row) for row in rows]


def _codes_sent(
    text: str, codes: list[tuple[int, str | None]], preferred: Sequence[int]
) -> list[int]:
    """The products whose code the text carries, in the catalog's own spelling (grounding
    lets nothing else out automatically). A code several products share (a brand's one
    code) is handed out once: it counts for the products the reply is about, else for the
    oldest of them, so a report does not count one code twice."""
    by_code: dict[str, list[int]] = {}
    for product_id, code in sorted(codes, key=lambda c: c[0]):
        if code and code in text:
            by_code.setdefault(code, []).append(product_id)
    sent: list[int] = []
    for owners in by_code.values():
        sent.extend([p for p in owners if p in preferred] or owners[:1])
    return sorted(sent)
