"""The models and the Alembic migrations describe the same schema, on both databases."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.clock import utc_now
from app.core.db import create_engine, create_sessionmaker, unit_of_work
from app.models import Base, Conversation, Draft, Message, OutboundMessage
from tests.builders import create_account, create_contact


async def test_models_match_migrations(engine: AsyncEngine) -> None:
    def diff(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with engine.connect() as connection:
        differences = await connection.run_sync(diff)
    assert differences == []


def test_every_migration_downgrades_and_upgrades_again(database_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    from app.core.paths import ALEMBIC_INI

    config = Config(str(ALEMBIC_INI))
    config.attributes["database_url"] = database_url
    command.downgrade(config, "base")
    command.upgrade(config, "head")


def test_0007_keeps_replies_by_hand_made_before_it(database_url: str) -> None:
    """Replies people made before `answered_by_hand_through_id` existed still answer what
    came before them: the influencer's (an echo) and a moderator's by hand (no draft)."""
    from alembic import command
    from alembic.config import Config

    from app.core.paths import ALEMBIC_INI

    config = Config(str(ALEMBIC_INI))
    config.attributes["database_url"] = database_url
    command.downgrade(config, "0006")
    seeded = asyncio.run(_seed_replies(database_url))
    command.upgrade(config, "head")
    assert asyncio.run(_marks(database_url)) == seeded


async def _seed_replies(url: str) -> dict[int, int | None]:
    """Three conversations: the influencer replied; a moderator replied by hand, then sent
    a draft they approved; only the bot replied. Returns the expected marks."""
    engine = create_engine(url)
    expected: dict[int, int | None] = {}
    try:
        async with unit_of_work(create_sessionmaker(engine)) as session:
            account = await create_account(session)
            for n, authors in enumerate(
                [("influencer",), ("moderator", "approved"), ("bot",)], start=1
            ):
                contact = await create_contact(session, account, external_id=f"IGSID-{n}")
                conversation_id = (
                    await session.execute(
                        insert(Conversation.__table__)
                        .values(account_id=account.id, contact_id=contact.id, is_paused=False)
                        .returning(Conversation.__table__.c.id)
                    )
                ).scalar_one()
                follower = Message(
                    account_id=account.id,
                    conversation_id=conversation_id,
                    mid=f"in-{n}",
                    direction="in",
                    author="follower",
                    kind="text",
                    text="code?",
                    payload={},
                    sent_at=utc_now(),
                )
                session.add(follower)
                await session.flush()
                expected[conversation_id] = None
                for m, author in enumerate(authors):
                    draft = None
                    if author in {"bot", "approved"}:
                        draft = Draft(
                            account_id=account.id,
                            conversation_id=conversation_id,
                            reply_to_message_id=follower.id,
                            status="sent",
                            decision="auto",
                            text="LENA15",
                            drafter="offline",
                        )
                        session.add(draft)
                        await session.flush()
                    # Columns the schema had at 0006 only: the model has grown since.
                    outbound_id = (
                        await session.execute(
                            insert(OutboundMessage.__table__)
                            .values(
                                account_id=account.id,
                                conversation_id=conversation_id,
                                draft_id=None if draft is None else draft.id,
                                idempotency_key=f"k-{n}-{m}",
                                channel="graph",
                                status="sent",
                                parts=[],
                                parts_sent=0,
                                external_ids=[],
                                messaging_type="RESPONSE",
                                attempts=0,
                                created_at=utc_now(),
                                updated_at=utc_now(),
                            )
                            .returning(OutboundMessage.__table__.c.id)
                        )
                    ).scalar_one()
                    reply = Message(
                        account_id=account.id,
                        conversation_id=conversation_id,
                        mid=f"out-{n}-{m}",
                        direction="out",
                        author="moderator" if author == "approved" else author,
                        kind="text",
                        text="LENA15",
                        payload={},
                        sent_at=utc_now(),
                        outbound_id=None if author == "influencer" else outbound_id,
                    )
                    session.add(reply)
                    await session.flush()
                    if author in {"influencer", "moderator"}:
                        expected[conversation_id] = reply.id
    finally:
        await engine.dispose()
    return expected


async def _marks(url: str) -> dict[int, int | None]:
    engine = create_engine(url)
    try:
        async with unit_of_work(create_sessionmaker(engine)) as session:
            rows = await session.execute(
                select(Conversation.id, Conversation.answered_by_hand_through_id)
            )
            return {row.id: row.answered_by_hand_through_id for row in rows}
    finally:
        await engine.dispose()
