"""A known month of one cooperation: replies of every kind, clicks, story mentions and
shared posts, plus look-alikes that must not count (another cooperation's product, a failed
send, a day outside the range, an ambiguous story mention, an unknown post)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Account, Conversation, LinkClick, OutboundMessage
from tests.builders import (
    create_contact,
    create_conversation,
    create_cooperation,
    create_draft,
    create_message,
    create_product,
)

_keys = itertools.count(1)
GLOW_REEL = "178900001"


def at(day: str, clock: str = "12:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{clock}:00").replace(tzinfo=UTC)


@dataclass
class Seeded:
    account_id: int
    cooperation_id: int
    other_cooperation_id: int
    serum_id: int
    cream_id: int


async def _sent(
    session: AsyncSession,
    conversation: Conversation,
    when: datetime,
    *,
    draft: dict[str, Any] | None,
    codes: Sequence[int] = (),
    links: Sequence[int] = (),
    status: str = "sent",
    comment_id: str | None = None,
    sent_by: int | None = None,
) -> None:
    draft_id = None
    if draft is not None:
        asked = await create_message(session, conversation, text="code?", created_at=when)
        made = await create_draft(
            session, conversation, asked, status="sent", created_at=when, **draft
        )
        draft_id = made.id
    session.add(
        OutboundMessage(
            account_id=conversation.account_id,
            conversation_id=conversation.id,
            draft_id=draft_id,
            idempotency_key=f"seed:{next(_keys)}",
            channel="graph",
            status=status,
            parts=["reply"],
            parts_sent=1,
            sent_at=when if status == "sent" else None,
            comment_id=comment_id,
            sent_by_user_id=sent_by,
            codes_sent=list(codes),
            links_sent=list(links),
        )
    )
    await session.flush()


async def _pointer(
    session: AsyncSession, conversation: Conversation, when: datetime, attachment: dict[str, Any]
) -> None:
    await create_message(
        session,
        conversation,
        kind="attachment",
        text=None,
        payload={"attachments": [attachment]},
        sent_at=when,
        created_at=when,
    )


def story() -> dict[str, Any]:
    return {"type": "story_mention", "url": "https://lookaside.fbsbx.com/ig_messaging_cdn/1"}


def shared(media_id: str | None = None, url: str | None = None) -> dict[str, Any]:
    payload = {"ig_post_media_id": media_id} if media_id else {}
    return {"type": "ig_post", "url": url, "title": "Glow!", "payload": payload}


async def seed_month(session: AsyncSession, account: Account, approver_id: int) -> Seeded:
    """November 2026, cooperation GlowLab / Autumn skincare (serum LENA15, cream CREAM10)."""
    glow = await create_cooperation(
        session,
        account,
        starts_on=date(2026, 11, 1),
        ends_on=date(2026, 11, 30),
        platform_posts=[
            {"url": "https://www.instagram.com/p/GLOW1/", "kind": "post"},
            {"media_id": GLOW_REEL, "kind": "reel"},
            {
                "url": "https://instagram.com/stories/lena/1",
                "kind": "story",
                "posted_on": "2026-11-10",
            },
            {
                "url": "https://instagram.com/stories/lena/2",
                "kind": "story",
                "posted_on": "2026-11-20",
            },
        ],
    )
    other = await create_cooperation(
        session,
        account,
        brand="SunCo",
        title="Summer",
        platform_posts=[
            {
                "url": "https://instagram.com/stories/lena/3",
                "kind": "story",
                "posted_on": "2026-11-19",
            }
        ],
    )
    serum = await create_product(session, glow)
    cream = await create_product(
        session,
        glow,
        name="Night Cream",
        aliases=[],
        discount_code="CREAM10",
        url="https://glowlab.example/cream",
    )
    sunscreen = await create_product(
        session,
        other,
        name="Sunscreen",
        aliases=[],
        discount_code="SUN5",
        url="https://sun.example",
    )
    contact = await create_contact(session, account, name="Mia", username="mia.glow")
    chat = await create_conversation(session, account, contact)
    auto = {"decision": "auto"}
    person = {"decision": "review", "decided_by_user_id": approver_id}
    s, c, o = serum.id, cream.id, sunscreen.id
    # 3 November: one automatic (code and link of the serum), one approved private reply to
    # a comment (both codes).
    await _sent(
        session,
        chat,
        at("2026-11-03", "09:00"),
        draft={**auto, "product_ids": [s]},
        codes=[s],
        links=[s],
    )
    await _sent(
        session,
        chat,
        at("2026-11-03", "23:59"),
        draft={**person, "product_ids": [s, c]},
        codes=[s, c],
        comment_id="c-1",
    )
    # 5 November: one by hand (the cream's code and link), one automatic about the serum
    # without code or link; another cooperation's reply and a failed send do not count.
    await _sent(
        session,
        chat,
        at("2026-11-05", "00:00"),
        draft=None,
        codes=[c],
        links=[c],
        sent_by=approver_id,
    )
    await _sent(session, chat, at("2026-11-05"), draft={**auto, "product_ids": [s]})
    await _sent(session, chat, at("2026-11-05"), draft={**auto, "product_ids": [o]}, codes=[o])
    await _sent(
        session,
        chat,
        at("2026-11-05"),
        draft={**auto, "product_ids": [s]},
        codes=[s],
        status="failed",
    )
    # Outside the cooperation's dates, inside an explicit range.
    await _sent(
        session, chat, at("2026-10-31", "23:59"), draft={**auto, "product_ids": [s]}, codes=[s]
    )
    await _sent(
        session, chat, at("2026-12-01", "00:00"), draft={**auto, "product_ids": [s]}, links=[s]
    )
    session.add_all(
        [
            LinkClick(
                account_id=account.id,
                product_id=s,
                channel="instagram",
                day=date(2026, 11, 3),
                clicks=4,
            ),
            LinkClick(
                account_id=account.id,
                product_id=s,
                channel="messenger",
                day=date(2026, 11, 3),
                clicks=1,
            ),
            LinkClick(
                account_id=account.id,
                product_id=c,
                channel="instagram",
                day=date(2026, 11, 5),
                clicks=2,
            ),
            LinkClick(
                account_id=account.id,
                product_id=o,
                channel="instagram",
                day=date(2026, 11, 5),
                clicks=9,
            ),
            LinkClick(
                account_id=account.id,
                product_id=s,
                channel="instagram",
                day=date(2026, 12, 1),
                clicks=3,
            ),
        ]
    )
    # Story mentions: the day of GlowLab's story and the day after count; two days after
    # does not; on 20 November both cooperations had a story the day before or that day.
    for day in ("2026-11-10", "2026-11-11", "2026-11-12", "2026-11-20"):
        await _pointer(session, chat, at(day), story())
    # Shared posts: GlowLab's reel by media id, its post by link; an unknown post.
    await _pointer(session, chat, at("2026-11-15"), shared(media_id=GLOW_REEL))
    await _pointer(session, chat, at("2026-11-16"), shared(url="https://instagram.com/p/GLOW1"))
    await _pointer(session, chat, at("2026-11-16"), shared(media_id="999"))
    await session.flush()
    return Seeded(account.id, glow.id, other.id, s, c)
