"""Test data for the moderator's desk: accounts, moderators, and queued drafts with the
conversation, contact, messages and products a card shows. Built with our own services and
the plain builders; nothing of the app is patched."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.schemas import AccountCreate
from app.accounts.service import create_account
from app.core.clock import utc_now
from app.core.crypto import TokenCipher
from app.models import Account, Draft, Message
from app.users import service as users
from tests.builders import create_contact, create_conversation, create_cooperation, create_product

PASSWORD = "long enough"
_numbers = itertools.count(1)


@dataclass(frozen=True)
class Seeded:
    draft_id: int
    conversation_id: int
    account_id: int
    follower_id: str
    text: str


async def seed_account(
    session: AsyncSession, cipher: TokenCipher, *, name: str = "Lena Loves"
) -> Account:
    n = next(_numbers)
    return await create_account(
        session,
        user=None,
        data=AccountCreate(
            platform="instagram",
            external_id=f"17841400{n:09d}",
            name=name,
            access_token=f"IGAAtoken-{n}",
            graph_host="instagram",
        ),
        cipher=cipher,
    )


async def seed_moderator(session: AsyncSession, email: str, account_ids: list[int]) -> None:
    await users.create_user(
        session, email=email, role="moderator", password=PASSWORD, account_ids=account_ids
    )


async def seed_draft(
    session: AsyncSession,
    account: Account,
    *,
    follower: str = "Mia Follower",
    follower_text: str = "Hi! Is there a code for the vitamin C serum?",
    text: str = "Hi Mia! Yes: LENA15 gives you 15% off the Vitamin C Serum.",
    reasons: list[str] | None = None,
    inbound_age: timedelta = timedelta(hours=2),
    extra_messages: list[dict[str, Any]] | None = None,
) -> Seeded:
    """A follower's message and the draft waiting for review that answers it."""
    n = next(_numbers)
    follower_id = f"IGSID-{n}"
    contact = await create_contact(
        session,
        account,
        external_id=follower_id,
        name=follower,
        username=f"fan_{n}",
        profile_pic_url="https://cdn.example/pic.jpg",
    )
    last_inbound = utc_now() - inbound_age
    conversation = await create_conversation(
        session, account, contact, last_inbound_at=last_inbound
    )
    cooperation = await create_cooperation(session, account)
    product = await create_product(session, cooperation)
    expired = await create_product(
        session,
        cooperation,
        name="Night Cream",
        aliases=[],
        discount_code="OLD10",
        code_valid_until=(utc_now() - timedelta(days=3)).date(),
    )
    for values in extra_messages or []:
        defaults: dict[str, Any] = {
            "direction": "in",
            "author": "follower",
            "kind": "text",
            "payload": {},
            "sent_at": last_inbound - timedelta(minutes=5),
        }
        session.add(
            Message(
                account_id=account.id, conversation_id=conversation.id, **{**defaults, **values}
            )
        )
    message = Message(
        account_id=account.id,
        conversation_id=conversation.id,
        mid=f"m_{n}",
        direction="in",
        author="follower",
        kind="text",
        text=follower_text,
        payload={},
        sent_at=last_inbound,
    )
    session.add(message)
    await session.flush()
    draft = Draft(
        account_id=account.id,
        conversation_id=conversation.id,
        reply_to_message_id=message.id,
        status="pending",
        decision="review",
        reasons=reasons if reasons is not None else ["confidence 0.42 below 0.80"],
        text=text,
        intent="discount_code",
        language="en",
        confidence=0.42,
        product_ids=[product.id, expired.id],
        drafter="offline",
    )
    session.add(draft)
    await session.flush()
    return Seeded(draft.id, conversation.id, account.id, follower_id, text)
