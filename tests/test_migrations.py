"""The models and the Alembic migrations describe the same schema, on both databases."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, Table, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.clock import utc_now
from app.core.db import create_engine, create_sessionmaker, unit_of_work
from app.models import Base, Conversation


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
    a draft they approved; only the bot replied. Returns the expected marks.

    Written with the tables as the database has them at 0006 (reflected), not with the
    models, which have grown columns since."""
    engine = create_engine(url)
    expected: dict[int, int | None] = {}
    now = utc_now()
    try:
        async with engine.begin() as connection:
            tables = await connection.run_sync(_reflected)

            async def add(table: str, **values: Any) -> int:
                stamped = {"created_at": now, "updated_at": now} | values
                columns = tables[table].c
                row = {k: v for k, v in stamped.items() if k in columns}
                inserted = await connection.execute(
                    insert(tables[table]).values(**row).returning(columns.id)
                )
                return int(inserted.scalar_one())

            account_id = await add(
                "accounts",
                platform="instagram",
                external_id="17841400000000001",
                graph_host="instagram",
                name="Lena Loves",
                status="active",
                is_paused=False,
                persona="",
                languages=[],
                policy={},
            )
            for n, authors in enumerate(
                [("influencer",), ("moderator", "approved"), ("bot",)], start=1
            ):
                contact_id = await add("contacts", account_id=account_id, external_id=f"IG-{n}")
                conversation_id = await add(
                    "conversations", account_id=account_id, contact_id=contact_id, is_paused=False
                )
                message: dict[str, Any] = {
                    "account_id": account_id,
                    "conversation_id": conversation_id,
                }
                message |= {"kind": "text", "text": "code?", "payload": {}, "sent_at": now}
                follower_id = await add(
                    "messages", **message, mid=f"in-{n}", direction="in", author="follower"
                )
                expected[conversation_id] = None
                for m, author in enumerate(authors):
                    draft_id = None
                    if author in {"bot", "approved"}:
                        draft_id = await add(
                            "drafts",
                            account_id=account_id,
                            conversation_id=conversation_id,
                            reply_to_message_id=follower_id,
                            status="sent",
                            decision="auto",
                            reasons=[],
                            text="LENA15",
                            intent="code",
                            language="en",
                            confidence=0.9,
                            product_ids=[],
                            drafter="offline",
                        )
                    outbound_id = await add(
                        "outbound_messages",
                        account_id=account_id,
                        conversation_id=conversation_id,
                        draft_id=draft_id,
                        idempotency_key=f"k-{n}-{m}",
                        channel="graph",
                        status="sent",
                        parts=[],
                        parts_sent=0,
                        external_ids=[],
                        messaging_type="RESPONSE",
                        attempts=0,
                    )
                    reply_id = await add(
                        "messages",
                        **message | {"text": "LENA15"},
                        mid=f"out-{n}-{m}",
                        direction="out",
                        author="moderator" if author == "approved" else author,
                        outbound_id=None if author == "influencer" else outbound_id,
                    )
                    if author in {"influencer", "moderator"}:
                        expected[conversation_id] = reply_id
    finally:
        await engine.dispose()
    return expected


def _reflected(connection: Any) -> dict[str, Table]:
    metadata = MetaData()
    metadata.reflect(connection)
    return dict(metadata.tables)


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
