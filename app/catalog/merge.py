"""What importing a catalog file changes, worked out before anything is written.

A cooperation of the file is the catalog's cooperation with the same brand and campaign
(title), compared without regard to case, accents' composition or spacing; a product is
the one of that cooperation with the same name, compared the same way. Matched entries
take the values the file gives (a blank CSV cell or a JSON key left out keeps the stored
value), except the names they were matched by: a file typed in lower case does not
respell "GlowLab" (the edit forms do); new ones are added; entries the file does not name
are kept as they are and listed, never deleted (a file of this season's cooperations must
not erase the past).

Pure functions on plain values, so the whole comparison runs off the event loop.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic_core import to_jsonable_python

from app.catalog.schemas import (
    CooperationChange,
    CooperationIn,
    FieldChange,
    ImportCounts,
    ImportResult,
    KeptCooperation,
    ProductChange,
    ProductIn,
)

COOPERATION_FIELDS = (
    "brand",
    "title",
    "starts_on",
    "ends_on",
    "notes",
    "platform_posts",
    "utm",
)
PRODUCT_FIELDS = tuple(f for f in ProductIn.model_fields)


@dataclass(frozen=True)
class Stored:
    """A catalog row as plain values: a cooperation (`parent` None) or a product."""

    id: int
    values: dict[str, Any]
    parent: int | None = None


def norm(text: str) -> str:
    """The matching form of a brand, campaign or product name."""
    return " ".join(unicodedata.normalize("NFKC", text).split()).casefold()


def cooperation_key(brand: str, title: str) -> tuple[str, str]:
    return norm(brand), norm(title)


def cooperation_values(data: CooperationIn) -> dict[str, Any]:
    """The stored form of the fields the file gives (brand always)."""
    given = (data.model_fields_set & set(COOPERATION_FIELDS)) | {"brand"}
    values = data.model_dump(include=given - {"platform_posts"})
    if "platform_posts" in given:
        values["platform_posts"] = [post.stored() for post in data.platform_posts]
    return values


def product_values(data: ProductIn, *, given_only: bool = True) -> dict[str, Any]:
    given = (data.model_fields_set | {"name"}) if given_only else set(PRODUCT_FIELDS)
    values = data.model_dump(include=given)
    if values.get("url") is not None:
        values["url"] = str(data.url)
    return values


MATCHED_BY = {"brand", "title", "name"}


def _changes(stored: dict[str, Any], wanted: dict[str, Any]) -> list[FieldChange]:
    return [
        FieldChange(
            field=field, old=to_jsonable_python(stored.get(field)), new=to_jsonable_python(value)
        )
        for field, value in wanted.items()
        if field not in MATCHED_BY and stored.get(field) != value
    ]


def _first_by_key(rows: Sequence[Stored], key: Any) -> dict[Any, Stored]:
    """Rows by matching key; of rows sharing one (an earlier duplicate import), the oldest."""
    found: dict[Any, Stored] = {}
    for row in sorted(rows, key=lambda r: r.id):
        found.setdefault(key(row), row)
    return found


def _plan_products(
    items: Sequence[ProductIn], stored: Sequence[Stored], counts: ImportCounts
) -> tuple[list[ProductChange], list[str]]:
    by_name = _first_by_key(stored, lambda r: norm(r.values["name"]))
    planned: list[ProductChange] = []
    matched: set[int] = set()
    for data in items:
        row = by_name.get(norm(data.name))
        if row is None:
            planned.append(ProductChange(status="new", id=None, name=data.name))
            counts.new += 1
            continue
        matched.add(row.id)
        changes = _changes(row.values, product_values(data))
        status = "changed" if changes else "unchanged"
        name = row.values["name"]  # as the catalog spells it
        planned.append(ProductChange(status=status, id=row.id, name=name, changes=changes))
        setattr(counts, status, getattr(counts, status) + 1)
    kept = [r.values["name"] for r in stored if r.id not in matched]
    counts.kept += len(kept)
    return planned, kept


def plan_import(
    items: Sequence[CooperationIn], cooperations: Sequence[Stored], products: Sequence[Stored]
) -> ImportResult:
    """What importing `items` into a catalog holding `cooperations` and `products` does."""
    by_key = _first_by_key(
        cooperations, lambda r: cooperation_key(r.values["brand"], r.values["title"])
    )
    products_of: dict[int, list[Stored]] = {}
    for product in products:
        products_of.setdefault(product.parent or 0, []).append(product)
    coop_counts, product_counts = ImportCounts(), ImportCounts()
    planned: list[CooperationChange] = []
    for data in items:
        row = by_key.get(cooperation_key(data.brand, data.title))
        changes = [] if row is None else _changes(row.values, cooperation_values(data))
        stored_products = [] if row is None else products_of.get(row.id, [])
        product_plan, kept = _plan_products(data.products, stored_products, product_counts)
        touched = changes or any(p.status != "unchanged" for p in product_plan)
        status = "new" if row is None else ("changed" if touched else "unchanged")
        setattr(coop_counts, status, getattr(coop_counts, status) + 1)
        planned.append(
            CooperationChange(
                status=status,
                id=None if row is None else row.id,
                brand=data.brand if row is None else row.values["brand"],
                title=data.title if row is None else row.values["title"],
                changes=changes,
                products=product_plan,
                kept_products=kept,
            )
        )
    matched = {p.id for p in planned if p.id is not None}
    kept_rows = [r for r in sorted(cooperations, key=lambda r: r.id) if r.id not in matched]
    coop_counts.kept = len(kept_rows)
    product_counts.kept += sum(len(products_of.get(r.id, [])) for r in kept_rows)
    return ImportResult(
        applied=False,
        cooperations=len(items),
        products=sum(len(i.products) for i in items),
        cooperation_counts=coop_counts,
        product_counts=product_counts,
        items=planned,
        kept=[
            KeptCooperation(
                id=r.id,
                brand=r.values["brand"],
                title=r.values["title"],
                products=len(products_of.get(r.id, [])),
            )
            for r in kept_rows
        ],
    )
