"""Tracked links: product links in sent replies become `{PUBLIC_URL}/l/{token}`, and
following one redirects to the product's current catalog URL and counts a click.

One link per conversation and product, made the first time a reply of that conversation
gives the product's link and reused after, so a follower who clicks twice in a minute is
one click. Clicks are counted per UTC day, product and channel; no address is kept.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.clock import utc_now
from app.links import repository
from app.links.clicks import is_click
from app.links.matching import find_links, replace_links
from app.links.utm import with_utm
from app.models import Account, Conversation

# 18 random bytes: 144 bits, 24 URL-safe characters.
TOKEN_BYTES = 18
# What a token may look like; anything else is not looked up at all.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")
# A second click on the same link within this time is the same person again.
REPEAT_WITHIN = timedelta(seconds=60)
PATH = "/l/"


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def short_url(settings: Settings, token: str) -> str:
    return f"{settings.PUBLIC_URL.rstrip('/')}{PATH}{token}"


def linked_products(
    text: str, products: Sequence[tuple[int, str | None]], preferred: Collection[int] = ()
) -> list[int]:
    """The products (`(id, catalog url)`) whose link `text` gives."""
    urls = [(product_id, url) for product_id, url in products if url]
    return sorted({f.product_id for f in find_links(text, urls, preferred=preferred)})


@dataclass(frozen=True, slots=True)
class LinkedText:
    text: str  # with short links where the account tracks them
    product_ids: list[int]  # the products whose link it gives, tracked or not
    # With `store=False`: the conversation's new links the text uses ({product id: token}),
    # for the caller to insert with the reply.
    new_tokens: dict[int, str] = field(default_factory=dict)


async def link_products(
    session: AsyncSession,
    settings: Settings,
    *,
    account: Account,
    conversation: Conversation,
    text: str,
    products: Sequence[tuple[int, str | None]],
    preferred: Collection[int] = (),
    known: Mapping[int, str] | None = None,
    store: bool = True,
) -> LinkedText:
    """The products (`(id, catalog url)`) whose link `text` gives and, when the account
    tracks links, `text` with each replaced by the conversation's short link for it.
    `known`: the conversation's tokens the caller read already ({product id: token}).
    `store=False`: products not in `known` (which must then hold every link the
    conversation has to the products `text` links) get new tokens, not inserted here;
    `new_tokens` names them, and the caller inserts them in the same transaction, as plain
    INSERTs (`app.outbox.auto_reply`): a link another transaction made meanwhile then fails
    that transaction rather than leave a token nobody stored in the text."""
    urls = [(product_id, url) for product_id, url in products if url]
    found = find_links(text, urls, preferred=preferred)
    product_ids = sorted({f.product_id for f in found})
    if not found or not account.track_links:
        return LinkedText(text=text, product_ids=product_ids)
    tokens = dict(known or {})
    missing = [product_id for product_id in product_ids if product_id not in tokens]
    new_tokens: dict[int, str] = {}
    if missing and not store:
        new_tokens = {product_id: new_token() for product_id in missing}
        tokens |= new_tokens
    elif missing:
        tokens |= await repository.tokens_for(
            session,
            account_id=account.id,
            conversation_id=conversation.id,
            product_ids=missing,
            new_token=new_token,
        )
    short = {product_id: short_url(settings, token) for product_id, token in tokens.items()}
    return LinkedText(
        text=replace_links(text, found, short), product_ids=product_ids, new_tokens=new_tokens
    )


async def follow(
    session: AsyncSession,
    *,
    token: str,
    method: str,
    user_agent: str | None,
    our_user: bool = False,
) -> str | None:
    """Where the link `token` leads now (None: nowhere), counting the request as a click
    if it is a follower's (not a fetcher's, not `our_user`: the influencer or a moderator
    trying the link) and the first on this link for a minute."""
    if not TOKEN_PATTERN.fullmatch(token):
        return None
    target = await repository.find_target(session, token)
    if target is None or not target.url or not target.url.startswith(("https://", "http://")):
        return None
    if is_click(method, user_agent) and not our_user:
        now = utc_now()
        if await repository.claim_click(
            session, link_id=target.link_id, now=now, repeat_within=REPEAT_WITHIN
        ):
            await repository.add_click(
                session,
                account_id=target.account_id,
                product_id=target.product_id,
                channel=target.channel,
                day=now.date(),
            )
    return with_utm(target.url, target.utm)
