"""How long a cooperation's report takes on a large account, on SQLite and PostgreSQL.

    .venv/bin/python bench/report.py [--days 400] [--per-day 300]

Seeds one account with `days` x `per-day` sent replies (two thirds from drafts, a third
carrying one of 40 products' code or link, the products spread over 10 cooperations),
20 story mentions or shared posts a day and daily clicks for every product, on a fresh
SQLite file and a fresh PostgreSQL database (dropped afterwards), then prints the median
of 5 reports of one cooperation over the whole range and over its last 30 days. Not a
test: it prints figures.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, text

from app.core.db import create_engine, create_sessionmaker
from app.models import (
    Account,
    Contact,
    Conversation,
    Cooperation,
    Draft,
    LinkClick,
    Message,
    OutboundMessage,
    Product,
    User,
)
from app.reports.service import report
from bench.dashboard import PG_ADMIN, _migrate, _pg_admin

COOPERATIONS, PRODUCTS_EACH = 10, 4


async def _one(conn: Any, model: Any, values: dict[str, Any]) -> int:
    return int((await conn.execute(insert(model).returning(model.id), [values])).scalar_one())


async def _catalog(conn: Any, account_id: int, first: date) -> list[list[int]]:
    products = []
    for n in range(COOPERATIONS):
        posts = [{"kind": "story", "posted_on": (first + timedelta(days=n * 30)).isoformat()}]
        cid = await _one(
            conn,
            Cooperation,
            {"account_id": account_id, "brand": f"Brand {n}", "platform_posts": posts},
        )
        products.append(
            [
                await _one(
                    conn,
                    Product,
                    {"account_id": account_id, "cooperation_id": cid, "name": f"P{n}-{k}"},
                )
                for k in range(PRODUCTS_EACH)
            ]
        )
    return products


def _reply(ids: dict[str, int], at: datetime, k: int, product: int, draft: int | None) -> Any:
    carries = k % 3 == 0
    return {
        "account_id": ids["account"],
        "conversation_id": ids["conversation"],
        "draft_id": draft,
        "idempotency_key": f"b:{uuid.uuid4().hex}",
        "channel": "graph",
        "status": "sent",
        "parts": ["x"],
        "sent_at": at,
        "sent_by_user_id": ids["user"] if draft is None else None,
        "codes_sent": [product] if carries else [],
        "links_sent": [product] if carries and k % 2 else [],
    }


async def _day(conn: Any, ids: dict[str, int], flat: list[int], day: datetime, n: int) -> None:
    at = [day + timedelta(seconds=k * 7) for k in range(n)]
    drafts = (
        (
            await conn.execute(
                insert(Draft).returning(Draft.id),
                [
                    {
                        "account_id": ids["account"],
                        "conversation_id": ids["conversation"],
                        "status": "sent",
                        "decision": "auto" if k % 2 else "review",
                        "text": "x",
                        "product_ids": [flat[k % len(flat)]],
                        "drafter": "offline",
                        "decided_by_user_id": None if k % 2 else ids["user"],
                    }
                    for k in range(n)
                    if k % 3
                ],
            )
        )
        .scalars()
        .all()
    )
    made = iter(drafts)
    rows = [
        _reply(ids, t, k, flat[k % len(flat)], next(made) if k % 3 else None)
        for k, t in enumerate(at)
    ]
    await conn.execute(insert(OutboundMessage), rows)
    kinds = [{"type": "story_mention"}, {"type": "ig_post", "payload": {"ig_post_media_id": "1"}}]
    await conn.execute(
        insert(Message),
        [
            {
                "account_id": ids["account"],
                "conversation_id": ids["conversation"],
                "direction": "in",
                "author": "follower",
                "kind": "attachment",
                "payload": {"attachments": [kinds[k % 2]]},
                "sent_at": t,
                "created_at": t,
            }
            for k, t in enumerate(at[:20])
        ],
    )
    await conn.execute(
        insert(LinkClick),
        [
            {
                "account_id": ids["account"],
                "product_id": p,
                "channel": "instagram",
                "day": day.date(),
                "clicks": 3,
            }
            for p in flat
        ],
    )


async def _seed(url: str, days: int, per_day: int) -> tuple[int, date]:
    engine = create_engine(url)
    first = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    first -= timedelta(days=days - 1)
    async with engine.begin() as conn:
        ids = {
            "account": await _one(
                conn,
                Account,
                {
                    "platform": "instagram",
                    "external_id": "1",
                    "graph_host": "instagram",
                    "name": "Bench",
                    "persona": "",
                    "languages": ["en"],
                    "policy": {},
                },
            )
        }
        ids["user"] = await _one(
            conn, User, {"email": "b@bench.example", "role": "admin", "password_hash": "x"}
        )
        contact = await _one(conn, Contact, {"account_id": ids["account"], "external_id": "f"})
        ids["conversation"] = await _one(
            conn, Conversation, {"account_id": ids["account"], "contact_id": contact}
        )
        products = await _catalog(conn, ids["account"], first.date())
        flat = [p for group in products for p in group]
        for n in range(days):
            await _day(conn, ids, flat, first + timedelta(days=n), per_day)
        cooperation = await conn.scalar(
            select(Product.cooperation_id).where(Product.id == products[0][0])
        )
        await conn.execute(text("ANALYZE"))  # as autovacuum would after a bulk load
    await engine.dispose()
    assert cooperation is not None
    return int(cooperation), first.date()


async def _time(url: str, cooperation_id: int, first: date, days: int) -> dict[str, float]:
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    last = first + timedelta(days=days - 1)
    ranges = {f"{days} days": first, "last 30 days": last - timedelta(days=29)}
    result = {}
    async with sessions() as session:
        user = await session.scalar(select(User))
        assert user is not None
        for name, start in ranges.items():
            took = []
            for _ in range(5):
                began = time.perf_counter()
                await report(
                    session, user=user, cooperation_id=cooperation_id, first=start, last=last
                )
                took.append((time.perf_counter() - began) * 1000)
            result[name] = statistics.median(took)
    await engine.dispose()
    return result


async def _index(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE INDEX ix_try ON outbound_messages (account_id, sent_at)"))
        await conn.execute(text("ANALYZE"))
    await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=400)
    parser.add_argument("--per-day", type=int, default=300)
    parser.add_argument("--index", action="store_true", help="try outbound(account_id, sent_at)")
    args = parser.parse_args()
    name = f"bench_report_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as folder:
        urls = {
            "sqlite": f"sqlite+aiosqlite:///{folder}/bench.db",
            "postgresql": PG_ADMIN.rsplit("/", 1)[0] + "/" + name,
        }
        await _pg_admin(f'CREATE DATABASE "{name}"')
        try:
            for label, url in urls.items():
                await asyncio.to_thread(_migrate, url)
                cooperation_id, first = await _seed(url, args.days, args.per_day)
                if args.index:
                    await _index(url)
                figures = await _time(url, cooperation_id, first, args.days)
                print(f"{label}: {args.days * args.per_day} sent replies")
                for query, ms in figures.items():
                    print(f"  report, {query:<14} {ms:8.1f} ms")
        finally:
            await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    asyncio.run(main())
