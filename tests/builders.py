"""Plain typed builders for test data. Each flushes and returns the row."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import utc_now
from app.models import Account, Contact, Conversation, Cooperation, Draft, Message, Product


async def create_account(session: AsyncSession, **overrides: Any) -> Account:
    values: dict[str, Any] = {
        "platform": "instagram",
        "external_id": "17841400000000001",
        "graph_host": "instagram",
        "name": "Lena Loves",
        "persona": "Warm, short, a little playful. Uses first names.",
        "languages": ["de", "en"],
        "policy": {},
    }
    values.update(overrides)
    account = Account(**values)
    session.add(account)
    await session.flush()
    return account


async def create_cooperation(
    session: AsyncSession, account: Account, **overrides: Any
) -> Cooperation:
    values: dict[str, Any] = {
        "account_id": account.id,
        "brand": "GlowLab",
        "title": "Autumn skincare",
        "starts_on": date(2026, 9, 1),
        "ends_on": date(2026, 12, 31),
        "notes": "",
    }
    values.update(overrides)
    cooperation = Cooperation(**values)
    session.add(cooperation)
    await session.flush()
    return cooperation


async def create_product(
    session: AsyncSession, cooperation: Cooperation, **overrides: Any
) -> Product:
    values: dict[str, Any] = {
        "account_id": cooperation.account_id,
        "cooperation_id": cooperation.id,
        "name": "Vitamin C Serum",
        "aliases": ["Glow Serum"],
        "description": "Brightening serum with 15% vitamin C.",
        "price": Decimal("29.90"),
        "currency": "EUR",
        "url": "https://glowlab.example/serum",
        "discount_code": "LENA15",
        "discount_details": "15% off the first order",
        "code_valid_until": date(2026, 12, 31),
    }
    values.update(overrides)
    product = Product(**values)
    session.add(product)
    await session.flush()
    return product


async def create_contact(session: AsyncSession, account: Account, **overrides: Any) -> Contact:
    values: dict[str, Any] = {"account_id": account.id, "external_id": "IGSID-1001"}
    values.update(overrides)
    contact = Contact(**values)
    session.add(contact)
    await session.flush()
    return contact


async def create_conversation(
    session: AsyncSession, account: Account, contact: Contact, **overrides: Any
) -> Conversation:
    values: dict[str, Any] = {"account_id": account.id, "contact_id": contact.id}
    values.update(overrides)
    conversation = Conversation(**values)
    session.add(conversation)
    await session.flush()
    return conversation


async def create_message(
    session: AsyncSession, conversation: Conversation, **overrides: Any
) -> Message:
    """A follower's text message, written `sent_at` (now unless given)."""
    values: dict[str, Any] = {
        "account_id": conversation.account_id,
        "conversation_id": conversation.id,
        "direction": "in",
        "author": "follower",
        "kind": "text",
        "text": "hello",
        "payload": {},
        "sent_at": utc_now(),
    }
    values.update(overrides)
    message = Message(**values)
    session.add(message)
    await session.flush()
    return message


async def create_draft(
    session: AsyncSession, conversation: Conversation, reply_to: Message, **overrides: Any
) -> Draft:
    values: dict[str, Any] = {
        "account_id": conversation.account_id,
        "conversation_id": conversation.id,
        "reply_to_message_id": reply_to.id,
        "status": "pending",
        "decision": "review",
        "reasons": [],
        "text": "Hi!",
        "drafter": "offline",
    }
    values.update(overrides)
    draft = Draft(**values)
    session.add(draft)
    await session.flush()
    return draft
