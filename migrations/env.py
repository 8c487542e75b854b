"""Alembic environment: async engine, batch mode on SQLite, URL from settings or the caller."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy import event
from sqlalchemy.engine import Connection

import app.models  # noqa: F401  (registers every table)
from app.core.db import create_engine, normalise_url
from app.models.base import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    if not url:
        from app.config import Settings

        url = Settings().DATABASE_URL
    return normalise_url(url)


def _configure(connection: Connection | None = None, **kwargs: Any) -> None:
    url = _url()
    context.configure(
        connection=connection,
        url=None if connection is not None else url,
        target_metadata=target_metadata,
        render_as_batch=url.startswith("sqlite"),
        compare_type=True,
        **kwargs,
    )


def run_migrations_offline() -> None:
    _configure(literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_engine(_url())
    sqlite = engine.dialect.name == "sqlite"
    if sqlite:
        # Batch mode copies a table, drops the old one and renames the copy: with foreign
        # keys on, dropping `accounts` would cascade to every row that refers to it.
        @event.listens_for(engine.sync_engine, "connect")
        def _foreign_keys_off(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=OFF")
            cursor.close()

    async with engine.connect() as connection:
        await connection.run_sync(_run_sync)
        await connection.commit()
        if sqlite:
            broken = (await connection.exec_driver_sql("PRAGMA foreign_key_check")).all()
            await connection.commit()
            if broken:
                raise RuntimeError(f"the migration left broken foreign keys: {broken[:5]}")
    await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_sync(connection)
    else:
        asyncio.run(_run_async())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
