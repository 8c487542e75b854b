"""The models and the Alembic migrations describe the same schema, on both databases."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine

from app.models import Base


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
