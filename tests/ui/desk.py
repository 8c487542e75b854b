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


# A morning's queue: many drafts in one account, cheaply (one cooperation, given products).


async def seed_queued(
    session: AsyncSession,
    account: Account,
    *,
    follower: str | None,
    follower_text: str,
    text: str,
    username: str | None = None,
    reasons: list[str] | None = None,
    language: str = "en",
    intent: str = "discount_code",
    confidence: float = 0.42,
    product_ids: list[int] | None = None,
    inbound_age: timedelta = timedelta(hours=2),
    payload: dict[str, Any] | None = None,
    kind: str = "text",
) -> Seeded:
    n = next(_numbers)
    follower_id = f"IGSID-{n}"
    contact = await create_contact(
        session, account, external_id=follower_id, name=follower, username=username
    )
    last_inbound = utc_now() - inbound_age
    conversation = await create_conversation(
        session, account, contact, last_inbound_at=last_inbound
    )
    message = Message(
        account_id=account.id,
        conversation_id=conversation.id,
        mid=f"m_{n}",
        direction="in",
        author="follower",
        kind=kind,
        text=follower_text,
        payload=payload or {},
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
        intent=intent,
        language=language,
        confidence=confidence,
        product_ids=product_ids or [],
        drafter="llm",
    )
    session.add(draft)
    await session.flush()
    return Seeded(draft.id, conversation.id, account.id, follower_id, text)


FIRST_NAMES = (
    "Mia Lena Tom Sara Luca Emma Noah Lea Ben Zoe Finn Ida Max Ava Leo Mila Jan Nora Paul "
    "Ella Tim Lina Ole Maja Elif Chiara Marco Julia Hugo Ines"
).split()

# Near-identical ways of asking one thing: case, punctuation, emoji, a greeting, "pls".
_YOGA = (
    "code for the yoga mat?",
    "Code for the yoga mat??",
    "code for the yoga mat 🙏",
    "hi! code for the yoga mat?",
    "CODE FOR THE YOGA MAT",
    "code for the yoga mat pls",
    "Hey, code for the yoga mat?!",
)
_SERUM_LINK = (
    "where can I buy the vitamin c serum?",
    "Where can i buy the Vitamin C serum??",
    "where can I buy the vitamin C serum 😍",
    "hello where can I buy the vitamin c serum",
    "Where can I buy the vitamin-c serum?",
)
_CODE_VALID = (
    "is the code LENA15 still valid?",
    "Is the code lena15 still valid??",
    "is the code LENA15 still valid ✨",
    "hi is the code LENA15 still valid",
)
_GERMAN = (
    "Gibt es einen Rabattcode für die Yogamatte?",
    "gibt es einen rabattcode für die yogamatte??",
    "Gibt es einen Rabattcode fuer die Yogamatte 🙏",
    "Hallo! Gibt es einen Rabattcode für die Yogamatte?",
)
# (variants, reply with {name}, language, how many)
MORNING_GROUPS: tuple[tuple[tuple[str, ...], str, str, int], ...] = (
    (_YOGA, "Hi {name}! Yes: YOGA10 gives you 10% off the Cloud Yoga Mat.", "en", 19),
    (
        _SERUM_LINK,
        "Hey {name}! You find it here: https://glowlab.example/serum",
        "en",
        17,
    ),
    (_CODE_VALID, "Hi {name}, yes: LENA15 works until 31 December.", "en", 14),
    (_GERMAN, "Hallo {name}! Mit YOGA10 bekommst du 10 % auf die Yogamatte.", "de", 10),
)

_TOPICS = (
    ("Does the {p} work for sensitive skin?", "The {p} is gentle; patch-test it first, {name}."),
    ("How long does the {p} last once opened?", "About six months once opened, {name}: the {p}."),
    ("Is the {p} vegan?", "Yes {name}, the {p} is fully vegan and cruelty-free."),
    ("Can I use the {p} every day?", "Daily use is fine, {name}; start slowly with the {p}."),
    ("What's the price of the {p}?", "The {p} costs 29.90 EUR, {name}."),
    ("Do you ship the {p} to Switzerland?", "GlowLab ships the {p} to Switzerland, {name}."),
    ("Is there a bigger size of the {p}?", "Only one size of the {p} for now, {name}."),
    ("My {p} arrived broken, what do I do?", "So sorry {name}! Write to GlowLab about the {p}."),
    ("Which is better, the {p} or the toner?", "Depends on your skin, {name}: the {p} hydrates."),
    ("Can I give the {p} as a gift?", "Of course {name}, the {p} comes gift-wrapped."),
    ("Is the {p} ok during pregnancy?", "Ask your doctor about the {p}, {name}, to be safe."),
    ("How do I apply the {p}?", "Two drops of the {p} on clean skin, {name}."),
    ("Does the {p} smell strong?", "The {p} has a light scent, {name}."),
    ("When is the {p} back in stock?", "The {p} is back next week, {name}!"),
)
PRODUCT_NAMES = (
    "Vitamin C Serum",
    "Night Cream",
    "Cloud Yoga Mat",
    "Hyaluron Mist",
    "Clay Mask",
    "Lip Balm",
    "Eye Gel",
    "Body Oil",
    "Sun Fluid",
    "Foot Cream",
)


async def seed_morning(session: AsyncSession, account: Account) -> dict[str, int]:
    """200 drafts: 60 near-identical questions in four groups (19, 17, 14, 10), and 140
    different ones (14 kinds of question about 10 products). Returns the group sizes by
    the first variant's text."""
    names = itertools.cycle(FIRST_NAMES)
    sizes = {}
    for variants, reply, language, count in MORNING_GROUPS:
        for i in range(count):
            name = next(names)
            await seed_queued(
                session,
                account,
                follower=f"{name} {chr(65 + i % 26)}.",
                username=f"{name.lower()}_{i}",
                follower_text=variants[i % len(variants)],
                text=reply.format(name=name),
                language=language,
                inbound_age=timedelta(hours=3, minutes=i),
            )
        sizes[variants[0]] = count
    for t, (question, answer) in enumerate(_TOPICS):
        for product in PRODUCT_NAMES:
            name = next(names)
            await seed_queued(
                session,
                account,
                follower=None if t % 5 == 0 else name,
                username=f"{name.lower()}{t}",
                follower_text=question.format(p=product),
                text=answer.format(p=product, name=name),
                intent="product_info",
                inbound_age=timedelta(hours=1, minutes=t),
            )
    return sizes
