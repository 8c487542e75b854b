"""Tiny inline inputs for the eval runner's tests."""

from __future__ import annotations

from datetime import date
from typing import Any

from app.drafting.base import ProductMatch
from evals.dataset import Catalog, Message

TODAY = date(2026, 10, 1)


def message(id: str, text: str, products: tuple[str, ...] = (), **overrides: object) -> Message:
    values: dict[str, Any] = {
        "id": id,
        "language": "en",
        "text": text,
        "products": products,
        "intent": "discount_code",
        "sensitive": None,
        "decision": "auto",
    }
    values.update(overrides)
    return Message(**values)


def product(name: str, code: str | None, until: str | None, **extra: object) -> dict[str, object]:
    slug = name.lower().replace(" ", "-")
    return {
        "name": name,
        "description": f"The {name}.",
        "price": "49.00",
        "currency": "EUR",
        "url": f"https://shop.example/{slug}",
        "discount_code": code,
        "discount_details": "20% off" if code else None,
        "code_valid_until": until,
        **extra,
    }


# Two headphones of one brand (one code valid, one expired) and a case without a code;
# a tea whose code has no date anywhere; a serum whose cooperation starts next month.
TINY = {
    "cooperations": [
        {
            "brand": "Sonora",
            "title": "Sound",
            "starts_on": "2026-01-01",
            "ends_on": "2026-06-30",
            "products": [
                product("Sonora Air Headphones", "AIR20", "2027-03-31"),
                product("Sonora Max Headphones", "MAX10", "2026-08-31"),
                product("Sonora Carry Case", None, None),
            ],
        },
        {"brand": "Bergkraut", "products": [product("Bergkraut Herbal Tea", "BERG10", None)]},
        {
            "brand": "Nova",
            "starts_on": "2026-11-01",
            "products": [product("Nova Retinol Booster", "NOVA20", "2027-04-30")],
        },
    ]
}
AIR, MAX, CASE, TEA, NOVA = (
    "Sonora Air Headphones",
    "Sonora Max Headphones",
    "Sonora Carry Case",
    "Bergkraut Herbal Tea",
    "Nova Retinol Booster",
)


def matches(catalog: Catalog, *names: str) -> list[ProductMatch]:
    """Retrieval as if it found `names`, in that order."""
    by_name = {p.name: (p, c) for p, c in catalog}
    return [ProductMatch(*by_name[n], score=0.9, matched_on="name") for n in names]
