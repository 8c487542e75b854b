"""What the CLI commands do, as async functions over one unit of work each."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.schemas import AccountCreate
from app.accounts.service import create_account
from app.catalog.importer import parse_catalog
from app.catalog.schemas import ImportResult
from app.catalog.service import import_catalog as add_catalog
from app.config import Settings
from app.core.crypto import TokenCipher, hash_password
from app.core.db import create_engine, create_sessionmaker, unit_of_work
from app.core.offload import run_cpu_bound
from app.errors import AppError, NotFound
from app.meta.sandbox import SANDBOX_POST, follower_comment_event, follower_text_event
from app.meta.signature import sign
from app.models import Account, CommentTrigger, Product, User
from app.policy.schemas import Policy
from app.users import service as users

DEMO_CATALOG = Path(__file__).parent / "demo" / "catalog.json"
DEMO_EMAIL = "admin@example.com"
DEMO_EXTERNAL_ID = "17841400000000042"
# The demo's comment trigger: "comment SERUM under the GlowLab post and I'll DM you the code".
DEMO_TRIGGER_PRODUCT = "Vitamin C Serum"
DEMO_PUBLIC_REPLIES = "Sent you a DM with the code 💌\nCheck your messages, the code is there ✨"


@asynccontextmanager
async def session_for(settings: Settings) -> AsyncIterator[AsyncSession]:
    engine = create_engine(settings.DATABASE_URL)
    try:
        async with unit_of_work(create_sessionmaker(engine)) as session:
            yield session
    finally:
        await engine.dispose()


async def create_user(
    settings: Settings,
    *,
    email: str,
    role: str,
    password: str,
    account_ids: Sequence[int],
    owner: bool = False,
) -> int:
    async with session_for(settings) as session:
        user = await users.create_user(
            session,
            email=email,
            role=role,
            password=password,
            account_ids=account_ids,
            owner=owner,
        )
        return user.id


async def invite_user(
    settings: Settings, *, email: str, role: str, account_ids: Sequence[int]
) -> str:
    """An invitation link (valid 7 days, single use); only its hash is stored."""
    from app.users.invitations import create_invitation, invitation_link

    async with session_for(settings) as session:
        token, _ = await create_invitation(
            session, admin=None, email=email, role=role, account_ids=account_ids
        )
    return invitation_link(settings.PUBLIC_URL, token)


async def create_token(settings: Settings, *, email: str) -> str:
    async with session_for(settings) as session:
        return await users.create_token(session, email=email)


async def rotate_token_key(settings: Settings) -> tuple[int, int]:
    """Re-encrypts stored tokens with SECRET_KEY; old keys come from SECRET_KEY_FALLBACKS."""
    from app.accounts.tokens import reencrypt_tokens

    cipher = TokenCipher(settings.secret_key, *settings.secret_key_fallbacks)
    async with session_for(settings) as session:
        rotation = await reencrypt_tokens(session, cipher=cipher)
    if rotation.undecryptable_account_ids:
        ids = ", ".join(map(str, rotation.undecryptable_account_ids))
        raise AppError(
            f"re-encrypted {rotation.accounts} token(s), but no key opens the tokens of "
            f"account(s) {ids}: add the key they were made with to SECRET_KEY_FALLBACKS"
        )
    return rotation.accounts, rotation.states


async def import_catalog(
    settings: Settings, *, content: bytes, filename: str, account_id: int
) -> ImportResult:
    items = await run_cpu_bound(parse_catalog, content, filename)
    async with session_for(settings) as session:
        if await session.get(Account, account_id) is None:
            raise NotFound(f"account {account_id} not found")
        return await add_catalog(session, account_id=account_id, items=items, user=None)


def webhook_body(
    account: Account, *, sender: str, text: str, media_id: str | None = None
) -> dict[str, Any]:
    """One text message from a follower, or with `media_id` their comment under that post,
    in Meta's documented shape (the simulator page builds the same)."""
    if media_id is not None:
        return follower_comment_event(account, sender=sender, text=text, media_id=media_id)
    return follower_text_event(account, sender=sender, text=text)


async def simulate(
    settings: Settings,
    *,
    account_id: int,
    sender: str,
    text: str,
    url: str | None,
    media_id: str | None = None,
) -> tuple[int, str]:
    async with session_for(settings) as session:
        account = await session.get(Account, account_id)
        if account is None:
            raise NotFound(f"account {account_id} not found")
    raw = json.dumps(webhook_body(account, sender=sender, text=text, media_id=media_id)).encode()
    base = (url or settings.PUBLIC_URL).rstrip("/")
    async with httpx.AsyncClient(timeout=10) as client:
        try:
            response = await client.post(
                f"{base}/webhooks/meta",
                content=raw,
                headers={
                    "Content-Type": "application/json",
                    "X-Hub-Signature-256": sign(raw, settings.webhook_secrets[0]),
                },
            )
        except httpx.HTTPError as exc:
            raise AppError(f"cannot reach {base}: {exc}") from exc
    return response.status_code, response.text.strip()


async def seed_demo(settings: Settings) -> dict[str, Any]:
    if not settings.sandbox:
        raise AppError("demo data is only created in sandbox mode")
    async with session_for(settings) as session:
        account = await session.scalar(
            select(Account).where(Account.external_id == DEMO_EXTERNAL_ID)
        )
        if account is None:
            account = await _create_demo(session, settings)
        password = await _demo_admin(session)
        token = await users.create_token(session, email=DEMO_EMAIL)
    base = settings.PUBLIC_URL.rstrip("/")
    # `simulate` posts to PUBLIC_URL as the environment sets it (by default port 8000):
    # when the service will listen elsewhere, the hint says where.
    default = str(Settings.model_fields["PUBLIC_URL"].default).rstrip("/")
    url = "" if base == default else f"--url {base} "
    lines = [
        f"Open {base}/ - sandbox mode: replies go to the sandbox outbox, never to Meta.",
        f"Sign in: {DEMO_EMAIL} / {password}   (API docs: {base}/docs)",
        f"API token: {token}",
        f"Demo account id: {account.id}. Try:",
        f"  .venv/bin/inboxpilot simulate {url}--account {account.id} "
        '"Hi! What was the code for the vitamin C serum?"',
        f'  .venv/bin/inboxpilot simulate {url}--account {account.id} --comment "SERUM please 😍"',
        f"  curl -H 'Authorization: Bearer {token}' {base}/api/v1/accounts/{account.id}/outbox",
        f"  curl -H 'Authorization: Bearer {token}' {base}/api/v1/drafts",
    ]
    return {"account_id": account.id, "token": token, "lines": lines}


async def _demo_admin(session: AsyncSession) -> str:
    """A fresh password for the sandbox's demo admin at every start, so the printed
    sign-in always works (only its hash is stored, it cannot be shown again)."""
    password = secrets.token_urlsafe(9)
    admin = await session.scalar(select(User).where(User.email == DEMO_EMAIL))
    if admin is None:
        await users.create_user(session, email=DEMO_EMAIL, role="admin", password=password)
    else:
        admin.password_hash = await hash_password(password)
    return password


async def _create_demo(session: AsyncSession, settings: Settings) -> Account:
    account = await create_account(
        session,
        user=None,
        data=AccountCreate(
            platform="instagram",
            external_id=DEMO_EXTERNAL_ID,
            name="Demo Creator",
            persona="Friendly, upbeat and brief. Uses the follower's first name when known.",
            languages=["en", "de", "es", "fr", "it"],
        ),
        cipher=TokenCipher(settings.secret_key),
    )
    # The demo shows both paths: grounded answers go out, the rest waits for a moderator.
    account.policy = Policy(mode="autopilot", min_confidence=0.7).model_dump()
    items = parse_catalog(DEMO_CATALOG.read_bytes(), DEMO_CATALOG.name)
    await add_catalog(session, account_id=account.id, items=items, user=None)
    serum = await session.scalar(
        select(Product.id).where(
            Product.account_id == account.id, Product.name == DEMO_TRIGGER_PRODUCT
        )
    )
    session.add(
        CommentTrigger(
            account_id=account.id,
            keywords=["SERUM"],
            media_id=SANDBOX_POST,
            product_id=serum,
            public_reply=DEMO_PUBLIC_REPLIES,
        )
    )
    return account
