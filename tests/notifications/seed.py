"""Accounts, people with alert choices, and pending drafts of several kinds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from app.core.clock import utc_now
from app.core.db import unit_of_work
from app.models import Account, AlertSettings
from app.runtime import Runtime
from app.users import service as users
from app.worker import queue
from tests.builders import (
    create_account,
    create_contact,
    create_conversation,
    create_draft,
    create_message,
)

MOD, OTHER = "mod@test.example", "other@test.example"
PASSWORD = "long enough password"
LONG_QUESTION = (
    "Hi Lena!! I have been following you for ages and wanted to ask whether the code for the "
    "vitamin C serum still works, my cart is ready"
)


@dataclass
class World:
    lena: Account
    other: Account
    shop: Account  # needs reconnecting
    drafts: dict[str, int]


async def add_draft(
    runtime: Runtime, account: Account, username: str, text: str, **draft: Any
) -> int:
    async with unit_of_work(runtime.sessionmaker) as session:
        contact = await create_contact(
            session, account, external_id=f"IGSID-{username}", username=username
        )
        conversation = await create_conversation(session, account, contact)
        message = await create_message(session, conversation, text=text)
        made = await create_draft(session, conversation, message, **draft)
        return made.id


async def seed(runtime: Runtime) -> World:
    async with unit_of_work(runtime.sessionmaker) as session:
        lena = await create_account(session, external_id="1001", name="Lena Loves")
        other = await create_account(session, external_id="1002", name="Other Creator")
        shop = await create_account(
            session, external_id="1003", name="Lena Shop", status="needs_reconnect"
        )
        mod = await users.create_user(
            session,
            email=MOD,
            role="moderator",
            password=PASSWORD,
            account_ids=[lena.id, shop.id],
        )
        someone = await users.create_user(
            session, email=OTHER, role="moderator", password=PASSWORD, account_ids=[other.id]
        )
        session.add(
            AlertSettings(
                user_id=mod.id, waiting_minutes=30, is_sensitive_on=True, is_reconnect_on=True
            )
        )
        session.add(AlertSettings(user_id=someone.id, waiting_minutes=60))
    old = utc_now() - timedelta(minutes=45)
    drafts = {
        "waiting": await add_draft(runtime, lena, "fan_old", LONG_QUESTION, created_at=old),
        "fresh": await add_draft(runtime, lena, "fan_new", "hello? anyone?"),
        "sensitive": await add_draft(
            runtime,
            lena,
            "fan_sad",
            "My order never arrived and I want my money back",
            reasons=["sensitive message: refund"],
        ),
        "hidden": await add_draft(
            runtime,
            other,
            "fan_b",
            "Only the other creator's people may read this",
            created_at=utc_now() - timedelta(hours=2),
        ),
        "decided": await add_draft(
            runtime, lena, "fan_done", "already answered", status="approved", created_at=old
        ),
    }
    return World(lena, other, shop, drafts)


async def run_digest_job(runtime: Runtime) -> None:
    """Queues the periodic job now, as the worker's schedule would."""
    from app.registry import build_worker
    from app.worker.kinds import JobKind

    async with unit_of_work(runtime.sessionmaker) as session:
        await queue.enqueue(
            session, JobKind.SEND_DIGESTS, {}, dedupe_key=f"periodic:{JobKind.SEND_DIGESTS}"
        )
    await build_worker(runtime).run_once()
