"""Retrieval over catalogs of 100, 1,000 and 10,000 products, on SQLite and PostgreSQL.

    .venv/bin/python bench/retrieval.py                  # both databases, ~1 min
    .venv/bin/python bench/retrieval.py --database sqlite --sizes 100,1000

For each database and catalog size: a migrated database with one account and a generated
catalog (brands, product names with aliases and codes), then a fixed mix of follower
messages (misspelt names, a brand alone, a code, another language, small talk) retrieved
through `app.drafting.retrieval.retrieve`, exactly as the draft job calls it:

- **warm**: the process's index is current; each call checks the catalog version and
  loads the matched products (what nearly every draft costs);
- **cold**: the catalog changed, the index is rebuilt (once per catalog change);
- **baseline**, in the same run: loading three products by primary key, the floor of any
  retrieval that returns products from this database.

Prints a Markdown table (p50 / p95 in ms, warm p95 / baseline p95) and exits non-zero
only if a retrieval found no product for a message that names one (a broken index).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.core.db import create_engine, create_sessionmaker, unit_of_work
from app.drafting.catalog_index import CatalogIndexes
from app.drafting.retrieval import retrieve
from app.models import Account, Base, Cooperation, Product

PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
TODAY = date(2026, 11, 29)
SYLLABLES = "ka lo mi ra ne su vel tor is an bri mo zen lu fa ro ki da el ny".split()
TYPES = (
    "Serum Cream Cleanser Toner Mask Lipstick Mascara Perfume Shampoo Oil Jacket Dress "
    "Sneaker Bag Scarf Hoodie Headphones Charger Tripod Case Watch Whisk Knife Pan Tea "
    "Coffee Protein Bottle Mat Band"
).split()
ADJECTIVES = (
    "Vitamin Hydra Velvet Alpine Urban Silk Night Daily Pure Golden Ocean Matte Wild "
    "Cloud Linen Cashmere Bamboo Smart Mini Pro Classic Glow Rose Cedar Arctic"
).split()


def _brand(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()


def generate(size: int, seed: int = 7) -> list[tuple[dict[str, object], list[dict[str, object]]]]:
    """`size` products in cooperations of 5-40 products each."""
    rng = random.Random(seed)
    catalog: list[tuple[dict[str, object], list[dict[str, object]]]] = []
    made = 0
    while made < size:
        brand = _brand(rng)
        count = min(size - made, rng.randint(5, 40))
        ends = TODAY + timedelta(days=rng.randint(-200, 400))
        cooperation = {"brand": brand, "title": f"{brand} campaign", "ends_on": ends}
        products = []
        for i in range(count):
            name = f"{rng.choice(ADJECTIVES)} {rng.choice(TYPES)} {rng.choice(SYLLABLES)}{i}"
            products.append(
                {
                    "name": name,
                    "aliases": [f"{brand} {name.split()[1]}"],
                    "description": f"{name} by {brand}.",
                    "price": Decimal(rng.randint(5, 300)),
                    "currency": "EUR",
                    "url": f"https://{brand.lower()}.example/{made + i}",
                    "discount_code": f"{brand[:4].upper()}{made + i}",
                    "code_valid_until": ends,
                }
            )
        catalog.append((cooperation, products))
        made += count
    return catalog


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 6:
        return word
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1 :]


def messages(
    catalog: list[tuple[dict[str, object], list[dict[str, object]]]], count: int = 200
) -> list[tuple[str, bool]]:
    """(message, names a product) pairs."""
    rng = random.Random(11)
    flat = [(c, p) for c, products in catalog for p in products]
    result: list[tuple[str, bool]] = []
    for i in range(count):
        cooperation, product = rng.choice(flat)
        name = str(product["name"])
        kind = i % 6
        if kind == 0:
            result.append((f"hey, what's the code for the {name}?", True))
        elif kind == 1:
            words = " ".join(_typo(w, rng) for w in name.split()[:2])
            result.append((f"link for {words} pls", True))
        elif kind == 2:
            result.append((f"do you still have a code for {cooperation['brand']}?", True))
        elif kind == 3:
            result.append((f"is {product['discount_code']} still working??", True))
        elif kind == 4:
            result.append(
                (f"Quanto costa il {name.split()[1].lower()} di {cooperation['brand']}?", True)
            )
        else:
            result.append(("love your last video, you look amazing ❤️", False))
    return result


async def _create_database(kind: str) -> tuple[str, Callable[[], Awaitable[None]]]:
    if kind == "sqlite":
        folder = tempfile.mkdtemp(prefix="inboxpilot-bench-")
        path = Path(folder) / "retrieval.db"

        async def remove_file() -> None:
            await asyncio.to_thread(shutil.rmtree, folder, True)

        return f"sqlite+aiosqlite:///{path}", remove_file
    name = f"inboxpilot_retrieval_{os.getpid()}_{int(time.time())}"
    admin = create_async_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()

    async def drop() -> None:
        engine = create_async_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        async with engine.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await engine.dispose()

    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", drop


def _ms(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


async def bench(kind: str, size: int, rounds: int) -> dict[str, object]:
    url, cleanup = await _create_database(kind)
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        sessionmaker = create_sessionmaker(engine)
        catalog = generate(size)
        async with unit_of_work(sessionmaker) as session:
            account = Account(
                platform="instagram", external_id="1", graph_host="instagram", name="Bench"
            )
            session.add(account)
            await session.flush()
            for cooperation_values, products in catalog:
                cooperation = Cooperation(account_id=account.id, **cooperation_values)
                session.add(cooperation)
                await session.flush()
                session.add_all(
                    Product(account_id=account.id, cooperation_id=cooperation.id, **values)
                    for values in products
                )
            account_id = account.id
        texts = messages(catalog)
        indexes = CatalogIndexes()
        missed = 0
        warm: list[float] = []
        cold: list[float] = []
        base: list[float] = []
        async with sessionmaker() as session:
            ids = list((await session.scalars(select(Product.id).limit(3))).all())
            for _ in range(rounds):
                indexes = CatalogIndexes()  # a catalog change: the next call rebuilds
                started = time.perf_counter()
                await retrieve(session, account_id=account_id, text="warm", indexes=indexes)
                cold.append(time.perf_counter() - started)
                for message, names_one in texts:
                    started = time.perf_counter()
                    found = await retrieve(
                        session, account_id=account_id, text=message, today=TODAY, indexes=indexes
                    )
                    warm.append(time.perf_counter() - started)
                    missed += names_one and not found
                    started = time.perf_counter()
                    await session.execute(
                        select(Product, Cooperation)
                        .join(Cooperation, Product.cooperation_id == Cooperation.id)
                        .where(Product.id.in_(ids))
                    )
                    base.append(time.perf_counter() - started)
                await session.rollback()
        warm_p50, warm_p95 = _ms(warm)
        cold_p50, cold_p95 = _ms(cold)
        base_p50, base_p95 = _ms(base)
        return {
            "database": kind,
            "products": size,
            "warm": (warm_p50, warm_p95),
            "cold": (cold_p50, cold_p95),
            "baseline": (base_p50, base_p95),
            "ratio": warm_p95 / base_p95 if base_p95 else float("nan"),
            "missed": missed,
            "messages": len(texts) * rounds,
        }
    finally:
        await engine.dispose()
        await cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the 200 messages")
    args = parser.parse_args(argv)
    kinds = ("sqlite", "postgresql") if args.database == "both" else (args.database,)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(
        "| database | products | warm p50 ms | warm p95 ms | cold (rebuild) p50 ms "
        "| baseline p95 ms | warm p95 / baseline | messages naming a product, none found |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    failed = False
    for kind in kinds:
        for size in sizes:
            r = asyncio.run(bench(kind, size, args.rounds))
            warm, cold, baseline = r["warm"], r["cold"], r["baseline"]
            assert isinstance(warm, tuple)
            assert isinstance(cold, tuple)
            assert isinstance(baseline, tuple)
            print(
                f"| {kind} | {size:,} | {warm[0]:.2f} | {warm[1]:.2f} | {cold[0]:.0f} "
                f"| {baseline[1]:.2f} | {r['ratio']:.1f}× | {r['missed']} of {r['messages']} |",
                flush=True,
            )
            failed = failed or bool(r["missed"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
