"""In-memory catalog rows for tests that need no database."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from app.drafting.base import DraftRequest, ProductMatch, Turn
from app.models import Cooperation, Product

TODAY = date(2026, 10, 1)


def cooperation(id: int = 1, **overrides: Any) -> Cooperation:
    values: dict[str, Any] = {
        "id": id,
        "account_id": 1,
        "brand": "GlowLab",
        "title": "Autumn skincare",
        "starts_on": date(2026, 9, 1),
        "ends_on": date(2026, 12, 31),
        "notes": "",
    }
    values.update(overrides)
    return Cooperation(**values)


def product(id: int, coop: Cooperation, **overrides: Any) -> Product:
    values: dict[str, Any] = {
        "id": id,
        "account_id": 1,
        "cooperation_id": coop.id,
        "name": "Vitamin C Serum",
        "aliases": ["Glow Serum"],
        "description": "Brightening serum with 15% vitamin C.",
        "price": Decimal("29.90"),
        "currency": "EUR",
        "url": "https://glowlab.example/serum",
        "discount_code": "LENA15",
        "discount_details": "15% off the first order",
        "code_valid_until": date(2026, 12, 31),
        "is_active": True,
    }
    values.update(overrides)
    return Product(**values)


def catalog() -> list[tuple[Product, Cooperation]]:
    glow = cooperation(1)
    nordwind = cooperation(
        2, brand="Nordwind Outdoor", title="Rain gear", starts_on=None, ends_on=date(2025, 3, 1)
    )
    sol = cooperation(3, brand="Sol y Mar", starts_on=date(2026, 4, 1), ends_on=None)  # ongoing
    return [
        (product(1, glow), glow),
        (
            product(
                2,
                glow,
                name="Night Repair Cream",
                aliases=[],
                description="Rich night cream.",
                url="https://glowlab.example/night",
                price=Decimal("34.50"),
                discount_code="LENA15",
            ),
            glow,
        ),
        (
            product(
                3,
                nordwind,
                name="Regenjacke Fjell",
                aliases=["Fjell Jacket"],
                description="Wasserdichte Regenjacke.",
                url="https://nordwind.example/fjell",
                price=None,
                currency=None,
                discount_code="LENA10",
                discount_details="10% Rabatt",
                code_valid_until=date(2025, 3, 1),
            ),
            nordwind,
        ),
        (
            product(
                4,
                sol,
                name="Protector Solar SPF 50",
                aliases=["sunscreen", "crema solar"],
                description="Sunscreen for face and body.",
                url="https://solymar.example/spf50",
                price=Decimal("19.00"),
                discount_code="SUMMER-20",
                discount_details="20% off",
                code_valid_until=None,
            ),
            sol,
        ),
    ]


def request(
    text: str,
    matches: list[ProductMatch] | tuple[ProductMatch, ...] = (),
    *,
    languages: tuple[str, ...] = ("de", "en", "es", "fr", "it"),
    history: tuple[Turn, ...] = (),
    today: date = TODAY,
) -> DraftRequest:
    return DraftRequest(
        account_name="Lena Loves",
        platform="instagram",
        persona="Warm, short, a little playful.",
        languages=languages,
        history=history,
        follower_text=text,
        products=tuple(matches),
        today=today,
    )
