"""How long the evidence pages' queries take on a large account, on SQLite and PostgreSQL.

    .venv/bin/python bench/dashboard.py [--days 365] [--per-day 300] [--pg URL]

Seeds one account with `days` x `per-day` follower messages and as many drafts (a third
sent automatically, a third approved by a person, a few marked), on a fresh SQLite file and
a fresh PostgreSQL database (dropped afterwards), then prints the median of 5 runs of each
query the dashboard, the sent list and the rules page make. Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import insert, select, text

from app.core.clock import utc_now
from app.core.db import create_engine, create_sessionmaker
from app.models import Account, Contact, Conversation, Draft, Message, ReplyMark, User
from app.moderation import autonomy, dashboard, marks, stats
from app.policy.schemas import Policy

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def _migrate(url: str) -> None:
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    command.upgrade(config, "head")


async def _seed(url: str, days: int, per_day: int) -> int:
    engine = create_engine(url)
    now = utc_now()
    async with engine.begin() as conn:
        account_id = (
            await conn.execute(
                insert(Account).returning(Account.id),
                [
                    {
                        "platform": "instagram",
                        "external_id": "1",
                        "graph_host": "instagram",
                        "name": "Bench",
                        "persona": "",
                        "languages": ["en"],
                        "policy": {},
                    }
                ],
            )
        ).scalar_one()
        user_id = (
            await conn.execute(
                insert(User).returning(User.id),
                [{"email": "b@bench.example", "role": "admin", "password_hash": "x"}],
            )
        ).scalar_one()
        contact_id = (
            await conn.execute(
                insert(Contact).returning(Contact.id),
                [{"account_id": account_id, "external_id": "f"}],
            )
        ).scalar_one()
        conversation_id = (
            await conn.execute(
                insert(Conversation).returning(Conversation.id),
                [{"account_id": account_id, "contact_id": contact_id}],
            )
        ).scalar_one()
        for day in reversed(range(days)):
            at = [now - timedelta(days=day, seconds=k) for k in range(per_day)]
            await conn.execute(
                insert(Message),
                [
                    {
                        "account_id": account_id,
                        "conversation_id": conversation_id,
                        "direction": "in",
                        "author": "follower",
                        "kind": "text",
                        "text": "code?",
                        "payload": {},
                        "sent_at": t,
                        "created_at": t,
                        "updated_at": t,
                    }
                    for t in at
                ],
            )
            rows: list[dict[str, Any]] = []
            for k, t in enumerate(at):
                auto = k % 3 == 0
                rows.append(
                    {
                        "account_id": account_id,
                        "conversation_id": conversation_id,
                        "status": "pending" if k % 3 == 2 and day == 0 else "sent",
                        "decision": "auto" if auto else "review",
                        "reasons": [],
                        "text": "LENA15",
                        "intent": ["price", "discount_code"][k % 2],
                        "language": "en",
                        "confidence": 0.7 + (k % 30) / 100,
                        "product_ids": [],
                        "drafter": "offline",
                        "decided_by_user_id": None if auto else user_id,
                        "created_at": t,
                        "updated_at": t,
                    }
                )
            await conn.execute(insert(Draft), rows)
        drafts = (
            (
                await conn.execute(
                    select(Draft.id).where(Draft.decision == "auto").order_by(Draft.id).limit(5000)
                )
            )
            .scalars()
            .all()
        )
        await conn.execute(
            insert(ReplyMark),
            [
                {
                    "draft_id": d,
                    "account_id": account_id,
                    "mark": "wrong" if d % 7 == 0 else "right",
                    "marked_at": now,
                }
                for d in drafts[::5]
            ],
        )
    await engine.dispose()
    return int(account_id)


async def _time(url: str, account_id: int) -> dict[str, float]:
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    policy = Policy(mode="autopilot")
    stricter = policy.model_copy(update={"auto_intents": ["greeting"]})
    async with sessions() as session:
        user = await session.scalar(select(User))
        assert user is not None
        queries: dict[str, Callable[[], Awaitable[Any]]] = {
            "dashboard (4 queries)": lambda: dashboard.dashboard(session, account_id=account_id),
            "sent list, page 1": lambda: marks.sent_alone_page(
                session, user=user, account_id=account_id
            ),
            "sent list, wrong only": lambda: marks.sent_alone_page(
                session, user=user, account_id=account_id, which="wrong"
            ),
            "approval stats": lambda: stats.approval_stats(session, account_id=account_id),
            "proposals": lambda: autonomy.proposals(session, account_id=account_id, policy=policy),
            "estimate (14 days)": lambda: autonomy.estimate(
                session, account_id=account_id, before=policy, after=stricter
            ),
        }
        result = {}
        for name, run in queries.items():
            took = []
            for _ in range(5):
                start = time.perf_counter()
                await run()
                took.append((time.perf_counter() - start) * 1000)
            result[name] = statistics.median(took)
    await engine.dispose()
    return result


async def _pg_admin(sql: str) -> None:
    engine = create_engine(PG_ADMIN)
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(sql))
    await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--per-day", type=int, default=300)
    args = parser.parse_args()
    name = f"bench_dashboard_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as folder:
        urls = {
            "sqlite": f"sqlite+aiosqlite:///{folder}/bench.db",
            "postgresql": PG_ADMIN.rsplit("/", 1)[0] + "/" + name,
        }
        await _pg_admin(f'CREATE DATABASE "{name}"')
        try:
            for label, url in urls.items():
                await asyncio.to_thread(_migrate, url)
                account_id = await _seed(url, args.days, args.per_day)
                figures = await _time(url, account_id)
                print(f"{label}: {args.days * args.per_day} messages and drafts")
                for query, ms in figures.items():
                    print(f"  {query:<24} {ms:8.1f} ms")
        finally:
            await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    asyncio.run(main())
