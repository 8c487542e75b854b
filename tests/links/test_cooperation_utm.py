"""A cooperation's `utm`: through the API, the import (JSON and CSV) and the catalog pages,
validated the same way everywhere; and into the tracked link's redirect."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from app.core.db import unit_of_work
from app.models import Account, TrackedLink
from tests.accounts.conftest import csrf_of, sign_in
from tests.builders import create_contact, create_conversation
from tests.harness import Harness

UTM = {"utm_source": "instagram", "utm_campaign": "autumn-serum"}


def _cooperation(**fields: Any) -> dict[str, Any]:
    return {"brand": "GlowLab", "title": "Autumn", **fields}


async def _import(
    harness: Harness, account_id: int, name: str, content: str, *, dry_run: bool = False
) -> httpx.Response:
    return await harness.api(
        "POST",
        f"/api/v1/accounts/{account_id}/catalog/import",
        params={"dry_run": "true"} if dry_run else None,
        files={"file": (name, content.encode(), "text/plain")},
    )


async def _listed(harness: Harness, account_id: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = (
        await harness.api("GET", f"/api/v1/accounts/{account_id}/cooperations")
    ).json()
    return rows


async def test_the_api_keeps_and_replaces_utm(harness: Harness) -> None:
    account = await harness.create_account()
    path = f"/api/v1/accounts/{account['id']}/cooperations"

    created = await harness.api("POST", path, json=_cooperation(utm=UTM))
    assert created.status_code == 201, created.text
    assert created.json()["utm"] == UTM
    plain = await harness.api("POST", path, json={"brand": "SunCo"})
    assert plain.json()["utm"] == {}

    put = await harness.api(
        "PUT",
        f"/api/v1/cooperations/{created.json()['id']}",
        json=_cooperation(utm={"utm_medium": "dm"}),
    )
    assert put.status_code == 200, put.text
    assert [c["utm"] for c in await _listed(harness, account["id"])] == [{"utm_medium": "dm"}, {}]


@pytest.mark.parametrize(
    "utm",
    [
        {"source": "instagram"},
        {"UTM_source": "x"},
        {"utm_": "x"},
        {"utm_source campaign": "x"},
        {f"utm_k{i}": "v" for i in range(11)},
        {"utm_source": "x" * 101},
        {"utm_source": ""},
        {"utm_source": 5},
        {"utm_source": None},
        {"utm_source": "a\u0000b"},
        ["utm_source", "x"],
        "utm_source",
        42,
    ],
)
async def test_invalid_utm_is_422_and_nothing_is_stored(harness: Harness, utm: Any) -> None:
    account = await harness.create_account()

    response = await harness.api(
        "POST", f"/api/v1/accounts/{account['id']}/cooperations", json=_cooperation(utm=utm)
    )

    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][:2] == ["body", "utm"]
    assert await _listed(harness, account["id"]) == []


async def test_ten_parameters_of_a_hundred_characters_are_fine(harness: Harness) -> None:
    account = await harness.create_account()
    utm = {f"utm_k{i}": "v" * 100 for i in range(10)}
    response = await harness.api(
        "POST", f"/api/v1/accounts/{account['id']}/cooperations", json=_cooperation(utm=utm)
    )
    assert response.status_code == 201, response.text
    assert response.json()["utm"] == utm


async def test_json_and_csv_imports_carry_utm_and_round_trip(harness: Harness) -> None:
    account = await harness.create_account()
    csv = (
        "brand,title,utm,name,url\n"
        "GlowLab,Autumn,utm_source=instagram&utm_campaign=autumn-serum,Serum,https://g.example/s\n"
        "GlowLab,Autumn,,Night Cream,https://g.example/n\n"
    )
    imported = await _import(harness, account["id"], "c.csv", csv)
    assert imported.status_code == 201, imported.text
    [stored] = await _listed(harness, account["id"])
    assert stored["utm"] == UTM

    # What the API lists, imported again as JSON: nothing changes.
    again = [
        {
            "brand": c["brand"],
            "title": c["title"],
            "utm": c["utm"],
            "products": [{"name": p["name"], "url": p["url"]} for p in c["products"]],
        }
        for c in await _listed(harness, account["id"])
    ]
    unchanged = await _import(harness, account["id"], "c.json", json.dumps(again))
    assert unchanged.status_code == 201, unchanged.text
    assert unchanged.json()["cooperation_counts"]["unchanged"] == 1

    again[0]["utm"] = {"utm_source": "instagram", "utm_campaign": "winter"}
    preview = await _import(harness, account["id"], "c.json", json.dumps(again), dry_run=True)
    assert preview.status_code == 200, preview.text
    [item] = preview.json()["items"]
    assert item["changes"] == [{"field": "utm", "old": UTM, "new": again[0]["utm"]}]
    applied = await _import(harness, account["id"], "c.json", json.dumps(again))
    assert applied.status_code == 201
    assert [c["utm"] for c in await _listed(harness, account["id"])] == [again[0]["utm"]]

    # A file that does not give utm keeps the stored one.
    del again[0]["utm"]
    kept = await _import(harness, account["id"], "c.json", json.dumps(again))
    assert kept.json()["cooperation_counts"]["unchanged"] == 1
    assert [c["utm"] for c in await _listed(harness, account["id"])] == [
        {"utm_source": "instagram", "utm_campaign": "winter"}
    ]


async def test_a_csv_with_bad_utm_is_refused_with_its_line(harness: Harness) -> None:
    account = await harness.create_account()
    csv = "brand,utm,name\nGlowLab,utm_source=ig,Serum\nSunCo,source=ig,Spray\nMoon,utm_x,Lamp\n"

    refused = await _import(harness, account["id"], "c.csv", csv)

    assert refused.status_code == 422
    detail = refused.json()["detail"]
    assert "line 3: utm.source.[key]" in detail
    assert "line 4: utm: Value error, 'utm_x' is not key=value" in detail
    assert await _listed(harness, account["id"]) == []


async def test_the_cooperation_form_edits_utm_and_the_catalog_shows_it(harness: Harness) -> None:
    account = await harness.create_account()
    await sign_in(harness)
    new = f"/catalog/cooperations/new?account_id={account['id']}"
    form = await harness.client.get(new)
    assert 'name="utm"' in form.text

    bad = await harness.client.post(
        new,
        data={"csrf_token": csrf_of(form.text), "brand": "GlowLab", "utm": "source=instagram"},
    )
    assert bad.status_code == 422
    assert "each name starts with utm_" in bad.text
    assert await _listed(harness, account["id"]) == []

    created = await harness.client.post(
        new,
        data={
            "csrf_token": csrf_of(form.text),
            "brand": "GlowLab",
            "utm": "utm_source=instagram\r\n\r\nutm_campaign = autumn-serum\r\n",
        },
    )
    assert created.status_code == 303, created.text
    [cooperation] = await _listed(harness, account["id"])
    assert cooperation["utm"] == UTM

    edit = f"/catalog/cooperations/{cooperation['id']}/edit"
    page = (await harness.client.get(edit)).text
    assert "utm_source=instagram\nutm_campaign=autumn-serum</textarea>" in page
    listing = (await harness.client.get(f"/catalog?account_id={account['id']}")).text
    assert "<code>utm_source=instagram</code>, <code>utm_campaign=autumn-serum</code>" in listing


async def test_the_redirect_uses_the_utm_the_catalog_has_now(harness: Harness) -> None:
    account = await harness.create_account()
    cooperation = await harness.add_serum(account["id"])
    token = "tok_Abcdefghijklmnopqrstuv"
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        row = await session.get(Account, account["id"])
        assert row is not None
        conversation = await create_conversation(session, row, await create_contact(session, row))
        session.add(
            TrackedLink(
                account_id=row.id,
                conversation_id=conversation.id,
                product_id=cooperation["products"][0]["id"],
                token=token,
            )
        )
    before = await harness.client.get(f"/l/{token}")
    assert before.headers["location"] == "https://glowlab.example/serum"

    put = await harness.api(
        "PUT",
        f"/api/v1/cooperations/{cooperation['id']}",
        json={"brand": "GlowLab", "title": "Autumn skincare", "utm": UTM},
    )
    assert put.status_code == 200, put.text
    after = await harness.client.get(f"/l/{token}")
    assert after.headers["location"] == (
        "https://glowlab.example/serum?utm_source=instagram&utm_campaign=autumn-serum"
    )
