"""The catalog of past cooperations and their products."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.catalog.merge import (
    COOPERATION_FIELDS,
    PRODUCT_FIELDS,
    Stored,
    cooperation_values,
    plan_import,
    product_values,
)
from app.catalog.schemas import (
    CooperationIn,
    CooperationOut,
    ImportResult,
    PlatformPost,
    ProductIn,
    ProductOut,
    ProductUpdate,
)
from app.core.db import lock_for_transaction
from app.core.offload import run_cpu_bound
from app.errors import AppError, NotFound
from app.models import Cooperation, Product, User
from app.users.service import ensure_access


def _product(account_id: int, cooperation_id: int, data: ProductIn) -> Product:
    values = data.model_dump()
    values["url"] = None if data.url is None else str(data.url)
    return Product(account_id=account_id, cooperation_id=cooperation_id, **values)


async def add_cooperations(
    session: AsyncSession, *, account_id: int, items: Sequence[CooperationIn]
) -> list[tuple[Cooperation, list[Product]]]:
    created: list[tuple[Cooperation, list[Product]]] = []
    for data in items:
        values = data.model_dump(exclude={"products", "platform_posts"})
        posts = [post.stored() for post in data.platform_posts]
        cooperation = Cooperation(account_id=account_id, platform_posts=posts, **values)
        session.add(cooperation)
        await session.flush()
        products = [_product(account_id, cooperation.id, p) for p in data.products]
        session.add_all(products)
        await session.flush()
        created.append((cooperation, products))
    return created


def cooperation_out(cooperation: Cooperation, products: Sequence[Product]) -> CooperationOut:
    return CooperationOut(
        id=cooperation.id,
        account_id=cooperation.account_id,
        brand=cooperation.brand,
        title=cooperation.title,
        starts_on=cooperation.starts_on,
        ends_on=cooperation.ends_on,
        notes=cooperation.notes,
        platform_posts=[PlatformPost.model_validate(p) for p in cooperation.platform_posts or ()],
        utm={k: v for k, v in (cooperation.utm or {}).items() if isinstance(v, str)},
        products=[ProductOut.model_validate(p) for p in products],
    )


async def create_cooperation(
    session: AsyncSession, *, user: User, account_id: int, data: CooperationIn
) -> CooperationOut:
    await ensure_access(session, user, account_id)
    [(cooperation, products)] = await add_cooperations(session, account_id=account_id, items=[data])
    await record(
        session,
        action="catalog.cooperation_created",
        user=user,
        account_id=account_id,
        entity=cooperation,
        details={"products": len(products)},
    )
    return cooperation_out(cooperation, products)


async def import_catalog(
    session: AsyncSession,
    *,
    account_id: int,
    items: Sequence[CooperationIn],
    user: User | None,
    apply: bool = True,
) -> ImportResult:
    """Imports a parsed file: matched cooperations and products are updated, new ones
    added, the rest kept (app/catalog/merge.py). With `apply=False`, only what it would do.
    Imports of one account take turns: two at once would each add the same new entries."""
    await lock_for_transaction(session, f"catalog-import:{account_id}")
    cooperations = (
        await session.scalars(select(Cooperation).where(Cooperation.account_id == account_id))
    ).all()
    products = (
        await session.scalars(select(Product).where(Product.account_id == account_id))
    ).all()
    stored = [Stored(c.id, {f: getattr(c, f) for f in COOPERATION_FIELDS}) for c in cooperations]
    stored_products = [
        Stored(p.id, {f: getattr(p, f) for f in PRODUCT_FIELDS}, p.cooperation_id) for p in products
    ]
    plan = await run_cpu_bound(plan_import, items, stored, stored_products)
    if not apply:
        return plan
    await _apply(
        session,
        account_id=account_id,
        items=items,
        plan=plan,
        cooperations={c.id: c for c in cooperations},
        products={p.id: p for p in products},
    )
    plan.applied = True
    await record(
        session,
        action="catalog.imported",
        user=user,
        account_id=account_id,
        details={
            "cooperations": plan.cooperation_counts.model_dump(),
            "products": plan.product_counts.model_dump(),
        },
    )
    return plan


async def _apply(
    session: AsyncSession,
    *,
    account_id: int,
    items: Sequence[CooperationIn],
    plan: ImportResult,
    cooperations: dict[int, Cooperation],
    products: dict[int, Product],
) -> None:
    """Writes `plan` (made from `items`) and fills in the new entries' ids."""
    for data, change in zip(items, plan.items, strict=True):
        if change.id is None:
            [(cooperation, created)] = await add_cooperations(
                session, account_id=account_id, items=[data]
            )
            change.id = cooperation.id
            for product_change, product in zip(change.products, created, strict=True):
                product_change.id = product.id
            continue
        cooperation = cooperations[change.id]
        wanted = cooperation_values(data)
        for field_change in change.changes:
            setattr(cooperation, field_change.field, wanted[field_change.field])
        for product_data, product_change in zip(data.products, change.products, strict=True):
            if product_change.id is None:
                product = _product(account_id, cooperation.id, product_data)
                session.add(product)
                await session.flush()
                product_change.id = product.id
                continue
            values = product_values(product_data)
            for field_change in product_change.changes:
                setattr(products[product_change.id], field_change.field, values[field_change.field])
    await session.flush()


async def list_cooperations(
    session: AsyncSession, *, user: User, account_id: int
) -> list[CooperationOut]:
    await ensure_access(session, user, account_id)
    cooperations = (
        await session.scalars(
            select(Cooperation).where(Cooperation.account_id == account_id).order_by(Cooperation.id)
        )
    ).all()
    products = (
        await session.scalars(
            select(Product).where(Product.account_id == account_id).order_by(Product.id)
        )
    ).all()
    by_cooperation: dict[int, list[Product]] = {}
    for product in products:
        by_cooperation.setdefault(product.cooperation_id, []).append(product)
    return [cooperation_out(c, by_cooperation.get(c.id, [])) for c in cooperations]


async def get_product(session: AsyncSession, *, user: User, product_id: int) -> Product:
    product = await session.get(Product, product_id)
    if product is None:
        raise NotFound("product not found")
    try:
        await ensure_access(session, user, product.account_id)
    except NotFound as exc:
        raise NotFound("product not found") from exc  # as if it did not exist
    return product


async def update_product(
    session: AsyncSession, *, user: User, product_id: int, data: ProductUpdate
) -> Product:
    product = await get_product(session, user=user, product_id=product_id)
    changes = data.model_dump(exclude_unset=True)
    if "url" in changes and changes["url"] is not None:
        changes["url"] = str(changes["url"])
    for field, value in changes.items():
        if field in {"name", "aliases", "description", "is_active"} and value is None:
            continue
        setattr(product, field, value)
    await record(
        session,
        action="catalog.product_updated",
        user=user,
        account_id=product.account_id,
        entity=product,
        details={k: str(v) for k, v in changes.items()},
    )
    return product


async def delete_product(session: AsyncSession, *, user: User, product_id: int) -> None:
    product = await get_product(session, user=user, product_id=product_id)
    await session.execute(delete(Product).where(Product.id == product.id))
    await record(
        session,
        action="catalog.product_deleted",
        user=user,
        account_id=product.account_id,
        details={"product_id": product.id, "name": product.name},
    )


async def get_cooperation(session: AsyncSession, *, user: User, cooperation_id: int) -> Cooperation:
    cooperation = await session.get(Cooperation, cooperation_id)
    if cooperation is None:
        raise NotFound("cooperation not found")
    try:
        await ensure_access(session, user, cooperation.account_id)
    except NotFound as exc:
        raise NotFound("cooperation not found") from exc
    return cooperation


async def _products_of(session: AsyncSession, cooperation_id: int) -> list[Product]:
    rows = await session.scalars(
        select(Product).where(Product.cooperation_id == cooperation_id).order_by(Product.id)
    )
    return list(rows.all())


async def update_cooperation(
    session: AsyncSession, *, user: User, cooperation_id: int, data: CooperationIn
) -> CooperationOut:
    """Replaces the cooperation's own fields (brand, title, period, notes, platform posts,
    UTM parameters); its products are added and edited one by one, so `data.products` must
    be empty."""
    if data.products:
        raise AppError("products are added and edited one by one, not with their cooperation")
    cooperation = await get_cooperation(session, user=user, cooperation_id=cooperation_id)
    values = data.model_dump(exclude={"products", "platform_posts"})
    values["platform_posts"] = [post.stored() for post in data.platform_posts]
    changed = {k: v for k, v in values.items() if getattr(cooperation, k) != v}
    for field, value in changed.items():
        setattr(cooperation, field, value)
    await session.flush()
    await record(
        session,
        action="catalog.cooperation_updated",
        user=user,
        account_id=cooperation.account_id,
        entity=cooperation,
        details={k: str(v) for k, v in changed.items()},
    )
    return cooperation_out(cooperation, await _products_of(session, cooperation.id))


async def add_product(
    session: AsyncSession, *, user: User, cooperation_id: int, data: ProductIn
) -> Product:
    cooperation = await get_cooperation(session, user=user, cooperation_id=cooperation_id)
    product = _product(cooperation.account_id, cooperation.id, data)
    session.add(product)
    await session.flush()
    await record(
        session,
        action="catalog.product_created",
        user=user,
        account_id=cooperation.account_id,
        entity=product,
        details={"cooperation_id": cooperation.id, "name": product.name},
    )
    return product


def _matches(words: list[str], *texts: str | None) -> bool:
    haystack = " ".join(t for t in texts if t).casefold()
    return all(word in haystack for word in words)


async def search_cooperations(
    session: AsyncSession, *, user: User, account_id: int, query: str
) -> list[CooperationOut]:
    """The account's cooperations with the products matching every word of `query` in their
    name, aliases, discount code or cooperation's brand or title (case-insensitive). A
    cooperation whose brand or title matches keeps all its products. Filtered in Python:
    a catalog is hundreds of rows, and casefolding is the same on every database."""
    cooperations = await list_cooperations(session, user=user, account_id=account_id)
    words = query.casefold().split()
    if not words:
        return cooperations
    found = []
    for cooperation in cooperations:
        if _matches(words, cooperation.brand, cooperation.title):
            found.append(cooperation)
            continue
        products = [
            p
            for p in cooperation.products
            if _matches(words, cooperation.brand, p.name, p.discount_code, *p.aliases)
        ]
        if products:
            found.append(cooperation.model_copy(update={"products": products}))
    return found
