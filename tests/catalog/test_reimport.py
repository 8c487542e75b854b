"""Importing a catalog file again updates what the catalog holds: cooperations matched by
brand and campaign, products by name within them (case and spacing aside); new entries
added, absent ones kept and listed; a preview first in the web page, `dry_run` in the API."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
from sqlalchemy import func, select

from app.core.db import unit_of_work
from app.models import AuditEntry, Cooperation, Product
from tests.accounts.conftest import csrf_of, sign_in
from tests.harness import Harness

FIRST = (
    "brand,title,notes,name,aliases,price,currency,discount_code,code_valid_until\n"
    "GlowLab,Autumn,Skincare week,Serum,glow serum|vit c,29.90,EUR,LENA15,2030-01-01\n"
    "GlowLab,Autumn,,Cream,,19.00,EUR,,\n"
    "SunCo,Summer,,Spray,,12.00,EUR,SUN10,2030-06-30\n"
    "Pulse,Launch,,Buds,,99.00,EUR,,\n"
)
# The same cooperations spelled differently; the serum's price and code change, the cream's
# price cell is blank (kept), a new product joins GlowLab, a new cooperation comes; SunCo's
# spray keeps its values; Pulse is not in the file (kept).
SECOND = (
    "brand,title,notes,name,aliases,price,currency,discount_code,code_valid_until\n"
    " glowlab ,AUTUMN,Skincare  week 2,serum,,34.00,EUR,LENA20,2031-01-01\n"
    "GLOWLAB,autumn,,Cream,,,,,\n"
    "GlowLab,Autumn,,Night Mask,,25.00,EUR,,\n"
    "SUNCO,Summer,,spray,,12.00,EUR,SUN10,2030-06-30\n"
    "Nordwind,Winter,,Jacket,,199.00,EUR,NORD10,2031-03-01\n"
)


async def _import(
    harness: Harness, account_id: int, content: str, *, dry_run: bool = False
) -> httpx.Response:
    return await harness.api(
        "POST",
        f"/api/v1/accounts/{account_id}/catalog/import",
        params={"dry_run": "true"} if dry_run else None,
        files={"file": ("catalog.csv", content.encode(), "text/csv")},
    )


async def _catalog(harness: Harness, account_id: int) -> dict[tuple[str, str], dict[str, Any]]:
    rows = (await harness.api("GET", f"/api/v1/accounts/{account_id}/cooperations")).json()
    catalog = {(c["brand"], c["title"]): c for c in rows}
    assert len(catalog) == len(rows)
    return catalog


async def _counts(harness: Harness) -> tuple[int, int]:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        cooperations = await session.scalar(select(func.count()).select_from(Cooperation))
        products = await session.scalar(select(func.count()).select_from(Product))
    return int(cooperations or 0), int(products or 0)


async def test_the_same_file_twice_adds_nothing_the_second_time(harness: Harness) -> None:
    account = await harness.create_account()
    first = await _import(harness, account["id"], FIRST)
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["cooperations"], body["products"], body["applied"]) == (3, 4, True)
    assert body["cooperation_counts"] == {"new": 3, "changed": 0, "unchanged": 0, "kept": 0}
    assert all(item["id"] for item in body["items"])
    assert all(p["id"] for item in body["items"] for p in item["products"])
    before = await _catalog(harness, account["id"])

    again = await _import(harness, account["id"], FIRST)
    assert again.status_code == 201, again.text
    body = again.json()
    assert body["cooperation_counts"] == {"new": 0, "changed": 0, "unchanged": 3, "kept": 0}
    assert body["product_counts"] == {"new": 0, "changed": 0, "unchanged": 4, "kept": 0}
    assert await _counts(harness) == (3, 4)
    after = await _catalog(harness, account["id"])
    assert {k: [p["id"] for p in c["products"]] for k, c in after.items()} == {
        k: [p["id"] for p in c["products"]] for k, c in before.items()
    }


async def test_a_changed_file_is_previewed_by_dry_run_then_applied(harness: Harness) -> None:
    account = await harness.create_account()
    assert (await _import(harness, account["id"], FIRST)).status_code == 201
    before = await _catalog(harness, account["id"])
    serum_id = before[("GlowLab", "Autumn")]["products"][0]["id"]

    preview = await _import(harness, account["id"], SECOND, dry_run=True)
    assert preview.status_code == 200, preview.text
    plan = preview.json()
    assert plan["applied"] is False
    assert plan["cooperation_counts"] == {"new": 1, "changed": 1, "unchanged": 1, "kept": 1}
    assert plan["product_counts"] == {"new": 2, "changed": 1, "unchanged": 2, "kept": 1}
    glowlab = plan["items"][0]
    assert (glowlab["status"], glowlab["id"]) == ("changed", before[("GlowLab", "Autumn")]["id"])
    # Matched regardless of spelling, and not respelled.
    assert (glowlab["brand"], glowlab["title"]) == ("GlowLab", "Autumn")
    assert {c["field"]: (c["old"], c["new"]) for c in glowlab["changes"]} == {
        "notes": ("Skincare week", "Skincare  week 2"),
    }
    serum, cream, mask = glowlab["products"]
    assert (serum["status"], serum["id"], serum["name"]) == ("changed", serum_id, "Serum")
    assert {c["field"]: (c["old"], c["new"]) for c in serum["changes"]} == {
        "price": ("29.90", "34.00"),
        "discount_code": ("LENA15", "LENA20"),
        "code_valid_until": ("2030-01-01", "2031-01-01"),
    }
    assert (cream["status"], mask["status"]) == ("unchanged", "new")
    assert plan["items"][1]["status"] == "unchanged"  # the same values
    assert plan["items"][2]["status"] == "new"
    assert plan["kept"] == [
        {
            "id": before[("Pulse", "Launch")]["id"],
            "brand": "Pulse",
            "title": "Launch",
            "products": 1,
        }
    ]
    assert await _catalog(harness, account["id"]) == before  # a dry run writes nothing

    applied = await _import(harness, account["id"], SECOND)
    assert applied.status_code == 201, applied.text
    assert applied.json()["product_counts"] == plan["product_counts"]
    after = await _catalog(harness, account["id"])
    assert set(after) == {
        ("GlowLab", "Autumn"),
        ("SunCo", "Summer"),
        ("Pulse", "Launch"),
        ("Nordwind", "Winter"),
    }
    products = {p["name"]: p for p in after[("GlowLab", "Autumn")]["products"]}
    assert set(products) == {"Serum", "Cream", "Night Mask"}
    assert products["Serum"]["id"] == serum_id
    assert (products["Serum"]["price"], products["Serum"]["discount_code"]) == ("34.00", "LENA20")
    assert products["Serum"]["aliases"] == ["glow serum", "vit c"]  # blank cell: kept
    assert (products["Cream"]["price"], products["Cream"]["currency"]) == ("19.00", "EUR")
    assert after[("Pulse", "Launch")] == before[("Pulse", "Launch")]
    assert await _counts(harness) == (4, 6)
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        entries = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "catalog.imported"))
        ).all()
    assert entries[-1].details["products"] == plan["product_counts"]


async def test_a_file_naming_something_twice_is_refused(harness: Harness) -> None:
    account = await harness.create_account()
    twice = FIRST + "GlowLab,Autumn,,SERUM ,,1.00,EUR,,\n"
    refused = await _import(harness, account["id"], twice)
    assert refused.status_code == 422
    assert "line 6: product 'SERUM' named twice in its cooperation" in refused.json()["detail"]
    duplicate = (
        '[{"brand": "GlowLab", "title": "Autumn"}, {"brand": "glowlab", "title": " autumn"}]'
    )
    refused = await harness.api(
        "POST",
        f"/api/v1/accounts/{account['id']}/catalog/import",
        files={"file": ("c.json", duplicate.encode(), "application/json")},
    )
    assert refused.status_code == 422
    assert "cooperation 2: same brand and campaign as cooperation 1" in refused.json()["detail"]
    assert await _counts(harness) == (0, 0)


async def _preview(harness: Harness, account_id: int, content: str) -> httpx.Response:
    form = await harness.client.get(f"/catalog/import?account_id={account_id}")
    return await harness.client.post(
        f"/catalog/import?account_id={account_id}",
        data={"csrf_token": csrf_of(form.text)},
        files={"file": ("season.csv", content.encode(), "text/csv")},
    )


def _confirmation(html: str) -> dict[str, str]:
    fields = dict(
        re.findall(r'name="(csrf_token|carried|filename|expected)" value="([^"]*)"', html)
    )
    assert set(fields) == {"csrf_token", "carried", "filename", "expected"}, html
    return fields


async def test_the_page_previews_the_changes_then_applies_them(harness: Harness) -> None:
    account = await harness.create_account()
    assert (await _import(harness, account["id"], FIRST)).status_code == 201
    await sign_in(harness)
    same = await _preview(harness, account["id"], FIRST)
    assert same.status_code == 200, same.text
    assert "Nothing to change: the catalog already holds everything in this file." in same.text
    assert 'name="carried"' not in same.text

    preview = await _preview(harness, account["id"], SECOND)
    assert preview.status_code == 200, preview.text
    text = preview.text
    assert "What importing season.csv changes" in text
    assert re.search(r"Products</th><td class=\"num\">2</td><td class=\"num\">1</td>", text)
    assert "<del>LENA15</del>" in text
    assert "<ins>LENA20</ins>" in text
    assert "<del>29.90</del>" in text
    assert "<ins>34.00</ins>" in text
    assert "Night Mask" in text
    assert "Nordwind · Winter" in text
    assert "1 cooperation not in the file: kept as it is" in text
    assert "Pulse · Launch" in text
    assert f'href="/catalog?account_id={account["id"]}">Cancel</a>' in text
    assert re.search(r"Apply \d+ changes", text)
    assert await _counts(harness) == (3, 4)  # a preview writes nothing

    done = await harness.client.post(
        f"/catalog/import/confirm?account_id={account['id']}", data=_confirmation(text)
    )
    assert done.status_code == 303, done.text
    shown = (await harness.client.get(done.headers["location"])).text
    assert "New: 1 cooperation, 2 products. Updated: 1 cooperation, 1 product." in shown
    assert await _counts(harness) == (4, 6)
    catalog = await _catalog(harness, account["id"])
    assert catalog[("GlowLab", "Autumn")]["products"][0]["discount_code"] == "LENA20"


async def test_a_catalog_changed_since_the_preview_is_previewed_again(harness: Harness) -> None:
    account = await harness.create_account()
    assert (await _import(harness, account["id"], FIRST)).status_code == 201
    await sign_in(harness)
    preview = await _preview(harness, account["id"], SECOND)
    # Someone adds the night mask by hand meanwhile.
    mask = {"name": "Night Mask", "price": "25.00", "currency": "EUR"}
    catalog = await _catalog(harness, account["id"])
    added = await harness.api(
        "POST", f"/api/v1/cooperations/{catalog[('GlowLab', 'Autumn')]['id']}/products", json=mask
    )
    assert added.status_code == 201, added.text
    again = await harness.client.post(
        f"/catalog/import/confirm?account_id={account['id']}", data=_confirmation(preview.text)
    )
    assert again.status_code == 200
    assert "The catalog changed since your preview" in again.text
    assert await _counts(harness) == (3, 5)  # nothing applied
    done = await harness.client.post(
        f"/catalog/import/confirm?account_id={account['id']}", data=_confirmation(again.text)
    )
    assert done.status_code == 303
    assert await _counts(harness) == (4, 6)  # the mask matched by name, not added twice


async def test_two_imports_at_once_add_the_file_once(harness: Harness) -> None:
    account = await harness.create_account()
    first, second = await asyncio.gather(
        _import(harness, account["id"], FIRST), _import(harness, account["id"], FIRST)
    )
    assert (first.status_code, second.status_code) == (201, 201)
    news = sorted(r.json()["cooperation_counts"]["new"] for r in (first, second))
    assert news == [0, 3]
    assert await _counts(harness) == (3, 4)
