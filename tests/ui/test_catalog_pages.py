"""The catalog pages (list, search, add, edit, import) and an account's settings page
(persona, confidence rules, approval statistics)."""

from __future__ import annotations

import base64
import json
import re
import zlib
from typing import Any

import httpx
from sqlalchemy import select

from app.core.db import unit_of_work
from app.models import AuditEntry, Cooperation, Product
from app.users import service as users
from tests.accounts.conftest import create_moderator, csrf_of, sign_in
from tests.harness import Harness, text_event


async def _post_form(
    harness: Harness, form_path: str, action: str, data: dict[str, Any]
) -> httpx.Response:
    form = await harness.client.get(form_path)
    assert form.status_code == 200, form.text
    return await harness.client.post(action, data={"csrf_token": csrf_of(form.text), **data})


async def _actions(harness: Harness) -> list[str]:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        return [e.action for e in (await session.scalars(select(AuditEntry))).all()]


async def _count(harness: Harness, model: type[Cooperation] | type[Product]) -> int:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        return len((await session.scalars(select(model))).all())


async def _cooperations(harness: Harness, account_id: int) -> list[dict[str, Any]]:
    response = await harness.api("GET", f"/api/v1/accounts/{account_id}/cooperations")
    rows: list[dict[str, Any]] = response.json()
    return rows


# Listing and search


async def test_the_catalog_shows_code_validity_ended_cooperations_and_searches(
    harness: Harness,
) -> None:
    account = await harness.create_account()
    await harness.add_serum(account["id"])
    old = {
        "brand": "SunCo",
        "title": "Summer 2020",
        "starts_on": "2020-06-01",
        "ends_on": "2020-08-31",
        "products": [
            {"name": "Sun Spray", "discount_code": "SUN20", "code_valid_until": "2020-08-31"},
            # The campaign ended; the code stays valid by contract.
            {"name": "Sun Stick", "discount_code": "STICK10", "code_valid_until": "2030-06-30"},
            {"name": "After Sun", "aliases": ["Cooling gel"], "is_active": False},
        ],
    }
    created = await harness.api("POST", f"/api/v1/accounts/{account['id']}/cooperations", json=old)
    assert created.status_code == 201
    await sign_in(harness)

    page = (await harness.client.get("/catalog")).text
    assert "Vitamin C Serum" in page
    assert "LENA15" in page
    assert "valid until 2030-12-31" in page
    assert "expired on 2020-08-31" in page
    assert "valid until 2030-06-30" in page
    assert "ended on 2020-08-31" in page
    assert ">inactive<" in page
    assert 'aria-current="page">Catalog' in page

    for query, shown, hidden in (
        ("lena15", "Vitamin C Serum", "Sun Spray"),
        ("glow serum", "Vitamin C Serum", "Sun Spray"),
        ("cooling", "After Sun", "Vitamin C Serum"),
        ("sunco", "Sun Spray", "Vitamin C Serum"),
    ):
        found = (await harness.client.get("/catalog", params={"q": query})).text
        assert shown in found, query
        assert hidden not in found, query
    live = await harness.client.get(
        "/catalog",
        params={"q": "serum", "account_id": account["id"]},
        headers={"HX-Request": "true", "HX-Target": "catalog-results"},
    )
    assert live.status_code == 200
    assert live.text.lstrip().startswith('<section id="catalog-results"')
    assert "Vitamin C Serum" in live.text


async def test_a_moderator_sees_only_their_accounts_catalog_and_settings(
    harness: Harness,
) -> None:
    mine = await harness.create_account(name="Mine")
    other = await harness.create_account(external_id="2", name="Other")
    theirs = await harness.add_serum(other["id"])
    await create_moderator(harness, "mo@test.example", [mine["id"]])
    await sign_in(harness, "mo@test.example", "long enough")
    page = (await harness.client.get("/catalog")).text
    assert "Vitamin C Serum" not in page
    cooperation_id, product_id = theirs["id"], theirs["products"][0]["id"]
    for path in (
        f"/catalog?account_id={other['id']}",
        f"/accounts/{other['id']}/settings",
        f"/catalog/cooperations/new?account_id={other['id']}",
        f"/catalog/cooperations/{cooperation_id}/edit",
        f"/catalog/cooperations/{cooperation_id}/products/new",
        f"/catalog/products/{product_id}/edit",
        f"/catalog/import?account_id={other['id']}",
    ):
        response = await harness.client.get(path)
        assert response.status_code == 404, path
        assert "Vitamin C Serum" not in response.text
    own = await harness.client.get(f"/accounts/{mine['id']}/settings")
    csrf = csrf_of(own.text)
    for path in (
        f"/catalog/cooperations/{cooperation_id}/edit",
        f"/catalog/products/{product_id}/edit",
        f"/accounts/{other['id']}/settings",
    ):
        response = await harness.client.post(
            path, data={"csrf_token": csrf, "brand": "Hacked", "name": "Hacked", "mode": "off"}
        )
        assert response.status_code == 404, path
    [stored] = await _cooperations(harness, other["id"])
    assert stored["brand"] == "GlowLab"
    assert stored["products"][0]["name"] == "Vitamin C Serum"


# Adding and editing


async def test_add_and_edit_a_cooperation_and_its_products(harness: Harness) -> None:
    account = await harness.create_account()
    await sign_in(harness)
    new = f"/catalog/cooperations/new?account_id={account['id']}"
    created = await _post_form(
        harness,
        new,
        new,
        {
            "brand": "GlowLab",
            "title": "Autumn",
            "starts_on": "2026-09-01",
            "ends_on": "2026-11-30",
            "notes": "Serum launch",
            "platform_posts": "https://instagram.com/p/abc reel 2026-09-02\n\n"
            "https://instagram.com/stories/x story media:1789",
        },
    )
    assert created.status_code == 303, created.text
    [cooperation] = await _cooperations(harness, account["id"])
    assert created.headers["location"].endswith(f"#cooperation-{cooperation['id']}")
    assert cooperation["platform_posts"] == [
        {
            "url": "https://instagram.com/p/abc",
            "kind": "reel",
            "posted_on": "2026-09-02",
            "media_id": None,
        },
        {
            "url": "https://instagram.com/stories/x",
            "kind": "story",
            "posted_on": None,
            "media_id": "1789",
        },
    ]

    edit = f"/catalog/cooperations/{cooperation['id']}/edit"
    form = (await harness.client.get(edit)).text
    assert "https://instagram.com/stories/x story media:1789" in form
    edited = await _post_form(
        harness, edit, edit, {"brand": "GlowLab", "title": "Autumn 2026", "platform_posts": ""}
    )
    assert edited.status_code == 303, edited.text
    [cooperation] = await _cooperations(harness, account["id"])
    assert cooperation["title"] == "Autumn 2026"
    assert cooperation["platform_posts"] == []
    assert cooperation["starts_on"] is None

    add = f"/catalog/cooperations/{cooperation['id']}/products/new"
    product = await _post_form(
        harness,
        add,
        add,
        {
            "name": "Vitamin C Serum",
            "aliases": "glow serum, vit c ,",
            "price": "29.90",
            "currency": "eur",
            "url": "https://glowlab.example/serum",
            "discount_code": "LENA15",
            "code_valid_until": "2030-12-31",
            "is_active": "on",
        },
    )
    assert product.status_code == 303, product.text
    [stored] = (await _cooperations(harness, account["id"]))[0]["products"]
    assert stored["aliases"] == ["glow serum", "vit c"]
    assert (stored["price"], stored["currency"]) == ("29.90", "EUR")
    assert stored["is_active"] is True

    edit_product = f"/catalog/products/{stored['id']}/edit"
    assert 'value="LENA15"' in (await harness.client.get(edit_product)).text
    changed = await _post_form(
        harness,
        edit_product,
        edit_product,
        {"name": "Vitamin C Serum 2", "aliases": "", "price": "", "discount_code": ""},
    )
    assert changed.status_code == 303, changed.text
    [stored] = (await _cooperations(harness, account["id"]))[0]["products"]
    assert stored["name"] == "Vitamin C Serum 2"
    assert stored["discount_code"] is None
    assert stored["price"] is None
    assert stored["is_active"] is False  # an unticked box deactivates
    assert {
        "catalog.cooperation_created",
        "catalog.cooperation_updated",
        "catalog.product_created",
        "catalog.product_updated",
    } <= set(await _actions(harness))


async def test_invalid_forms_are_shown_again_with_messages_and_change_nothing(
    harness: Harness,
) -> None:
    account = await harness.create_account()
    cooperation = await harness.add_serum(account["id"])
    await sign_in(harness)
    new = f"/catalog/cooperations/new?account_id={account['id']}"
    response = await _post_form(
        harness,
        new,
        new,
        {
            "brand": "",
            "starts_on": "next week",
            "platform_posts": "https://ok.example/p\nnot a url",
        },
    )
    assert response.status_code == 422
    page = response.text
    assert 'id="f-brand-error"' in page
    assert "a date as YYYY-MM-DD" in page
    assert "line 2: a full web address" in page
    assert 'value="next week"' in page  # what was typed is kept

    backwards = await _post_form(
        harness, new, new, {"brand": "X", "starts_on": "2026-05-01", "ends_on": "2026-04-01"}
    )
    assert backwards.status_code == 422
    assert "the end is before the start" in backwards.text

    edit = f"/catalog/products/{cooperation['products'][0]['id']}/edit"
    bad = await _post_form(
        harness,
        edit,
        edit,
        {
            "name": "Serum",
            "price": "cheap",
            "currency": "euro",
            "url": "glowlab",
            "is_active": "on",
        },
    )
    assert bad.status_code == 422
    assert "a number such as 29.90" in bad.text
    assert "a three-letter code such as EUR" in bad.text
    assert "a full web address" in bad.text
    assert await _count(harness, Cooperation) == 1
    [stored] = (await _cooperations(harness, account["id"]))[0]["products"]
    assert (stored["name"], stored["price"], stored["currency"]) == (
        "Vitamin C Serum",
        "29.90",
        "EUR",
    )


async def test_forms_without_the_csrf_token_are_refused_and_change_nothing(
    harness: Harness,
) -> None:
    account = await harness.create_account()
    cooperation = await harness.add_serum(account["id"])
    await sign_in(harness)
    product_id = cooperation["products"][0]["id"]
    for path, data in (
        (f"/catalog/cooperations/new?account_id={account['id']}", {"brand": "Evil"}),
        (f"/catalog/cooperations/{cooperation['id']}/edit", {"brand": "Evil"}),
        (f"/catalog/products/{product_id}/edit", {"name": "Evil"}),
        (f"/catalog/cooperations/{cooperation['id']}/products/new", {"name": "Evil"}),
        (f"/accounts/{account['id']}/settings", {"mode": "autopilot", "min_confidence": "0"}),
        (f"/catalog/import/confirm?account_id={account['id']}", {"carried": ""}),
    ):
        response = await harness.client.post(path, data={**data, "csrf_token": "forged"})
        assert response.status_code == 403, path
        assert response.json()["detail"].startswith("the form expired"), path
        assert (await harness.client.post(path, data=data)).status_code == 403, path
        # A form the browser posted itself gets a page that says what happened.
        page = await harness.client.post(
            path, data={**data, "csrf_token": "forged"}, headers={"Accept": "text/html"}
        )
        assert page.status_code == 403, path
        assert page.headers["content-type"].startswith("text/html"), path
        assert "the form expired or came from another site" in page.text.lower(), path
    rows = await _cooperations(harness, account["id"])
    assert [(c["brand"], [p["name"] for p in c["products"]]) for c in rows] == [
        ("GlowLab", ["Vitamin C Serum"])
    ]
    policy = (await harness.api("GET", f"/api/v1/accounts/{account['id']}/policy")).json()
    assert policy["mode"] == "copilot"


# Import


CSV_WITH_ERRORS = (
    "brand,title,name,price,currency,code_valid_until\n"
    "GlowLab,Autumn,Serum,29.90,EUR,2030-12-31\n"
    "GlowLab,Autumn,Cream,cheap,EUR,\n"
    "SunCo,,Spray,10,EUR,someday\n"
)
CSV_GOOD = (
    "brand,title,name,aliases,discount_code\n"
    "GlowLab,Autumn,Serum,glow serum|vit c,LENA15\n"
    "GlowLab,Autumn,Cream,,\n"
    "SunCo,Summer,Spray,,SUN10\n"
)


async def _preview(harness: Harness, account_id: int, name: str, content: str) -> httpx.Response:
    form = await harness.client.get(f"/catalog/import?account_id={account_id}")
    return await harness.client.post(
        f"/catalog/import?account_id={account_id}",
        data={"csrf_token": csrf_of(form.text)},
        files={"file": (name, content.encode(), "text/csv")},
    )


async def test_an_import_with_errors_lists_them_by_line_and_imports_nothing(
    harness: Harness,
) -> None:
    account = await harness.create_account()
    await sign_in(harness)
    response = await _preview(harness, account["id"], "catalog.csv", CSV_WITH_ERRORS)
    assert response.status_code == 422
    assert "Nothing was imported" in response.text
    assert "line 3: products.0.price" in response.text
    assert "line 4: products.0.code_valid_until" in response.text
    assert 'name="carried"' not in response.text
    broken_json = await _preview(harness, account["id"], "c.json", '[{"brand": "X",\n  oops}]')
    assert broken_json.status_code == 422
    assert "line 2: invalid JSON" in broken_json.text
    assert await _count(harness, Cooperation) == 0


async def test_an_import_is_previewed_then_confirmed(harness: Harness) -> None:
    account = await harness.create_account()
    await sign_in(harness)
    preview = await _preview(harness, account["id"], "catalog.csv", CSV_GOOD)
    assert preview.status_code == 200, preview.text
    assert re.search(r"Cooperations</th><td class=\"num\">2</td>", preview.text)
    assert re.search(r"Products</th><td class=\"num\">3</td>", preview.text)
    assert "GlowLab · Autumn" in preview.text
    assert "Apply 5 changes" in preview.text
    assert await _count(harness, Cooperation) == 0  # a preview writes nothing
    expected = re.search(r'name="expected" value="([^"]+)"', preview.text)
    assert expected is not None

    carried = re.search(r'name="carried" value="([^"]+)"', preview.text)
    assert carried is not None
    confirm = f"/catalog/import/confirm?account_id={account['id']}"
    tampered = await harness.client.post(
        confirm,
        data={"csrf_token": csrf_of(preview.text), "carried": carried.group(1)[:-8] + "AAAAAAAA"},
    )
    assert tampered.status_code == 422
    assert await _count(harness, Cooperation) == 0

    done = await harness.client.post(
        confirm,
        data={
            "csrf_token": csrf_of(preview.text),
            "carried": carried.group(1),
            "filename": "catalog.csv",
            "expected": expected.group(1),
        },
    )
    assert done.status_code == 303, done.text
    page = (await harness.client.get(done.headers["location"])).text
    assert "Imported 2 cooperations with 3 products" in page
    rows = await _cooperations(harness, account["id"])
    assert sorted((c["brand"], len(c["products"])) for c in rows) == [("GlowLab", 2), ("SunCo", 1)]
    assert "catalog.imported" in await _actions(harness)


async def test_a_confirmation_is_parsed_again_not_trusted(harness: Harness) -> None:
    """A forged confirmation carrying an invalid file shows its errors and imports nothing."""
    account = await harness.create_account()
    await sign_in(harness)
    form = await harness.client.get(f"/catalog/import?account_id={account['id']}")
    forged = base64.b64encode(zlib.compress(CSV_WITH_ERRORS.encode())).decode()
    response = await harness.client.post(
        f"/catalog/import/confirm?account_id={account['id']}",
        data={"csrf_token": csrf_of(form.text), "carried": forged, "filename": "x.csv"},
    )
    assert response.status_code == 422
    assert "line 3" in response.text
    assert await _count(harness, Cooperation) == 0


# Settings


async def test_settings_save_persona_and_rules_through_the_audited_services(
    harness: Harness,
) -> None:
    account = await harness.create_account()
    await sign_in(harness)
    path = f"/accounts/{account['id']}/settings"
    page = (await harness.client.get(path)).text
    assert "Copilot" in page
    assert "Default: 0.8" in page
    response = await _post_form(
        harness,
        path,
        path,
        {
            "persona": "Warm and brief",
            "languages": "de, en",
            "mode": "autopilot",
            "min_confidence": "0.7",
            "auto_intents": ["discount_code", "price"],
            "max_auto_replies_per_conversation_per_day": "3",
            "pause_after_human_reply_minutes": "120",
            "hold_auto_seconds": "0",
        },
    )
    # A change of what goes out without review is confirmed first; nothing saved yet.
    assert response.status_code == 200, response.text
    assert "Mode: copilot becomes autopilot." in response.text
    assert "policy.changed" not in await _actions(harness)
    response = await _post_form(
        harness,
        path,
        path,
        {
            "confirmed": "1",
            "persona": "Warm and brief",
            "languages": "de, en",
            "mode": "autopilot",
            "min_confidence": "0.7",
            "auto_intents": ["discount_code", "price"],
            "max_auto_replies_per_conversation_per_day": "3",
            "pause_after_human_reply_minutes": "120",
            "hold_auto_seconds": "0",
        },
    )
    assert response.status_code == 303, response.text
    assert "Saved." in (await harness.client.get(response.headers["location"])).text
    policy = (await harness.api("GET", f"/api/v1/accounts/{account['id']}/policy")).json()
    expected = {
        "mode": "autopilot",
        "min_confidence": 0.7,
        "auto_intents": ["discount_code", "price"],
        "max_auto_replies_per_conversation_per_day": 3,
        "pause_after_human_reply_minutes": 120,
    }
    assert {k: policy[k] for k in expected} == expected
    stored = (await harness.api("GET", f"/api/v1/accounts/{account['id']}")).json()
    assert (stored["persona"], stored["languages"], stored["paused"]) == (
        "Warm and brief",
        ["de", "en"],
        False,
    )
    actions = await _actions(harness)
    assert "policy.changed" in actions
    assert "account.updated" in actions


async def test_settings_reject_bad_values_with_a_message_and_change_nothing(
    harness: Harness,
) -> None:
    account = await harness.create_account()
    await sign_in(harness)
    path = f"/accounts/{account['id']}/settings"
    response = await _post_form(
        harness,
        path,
        path,
        {
            "persona": "changed",
            "languages": "",
            "mode": "yolo",
            "min_confidence": "1.5",
            "max_auto_replies_per_conversation_per_day": "-1",
            "pause_after_human_reply_minutes": "soon",
            "paused": "on",
        },
    )
    assert response.status_code == 422
    for field in ("languages", "mode", "min_confidence", "pause_after_human_reply_minutes"):
        assert f'id="f-{field}-error"' in response.text, field
    assert "less than or equal to 1" in response.text
    assert ">changed</textarea>" in response.text
    policy = (await harness.api("GET", f"/api/v1/accounts/{account['id']}/policy")).json()
    assert policy["mode"] == "copilot"
    assert policy["min_confidence"] == 0.8
    stored = (await harness.api("GET", f"/api/v1/accounts/{account['id']}")).json()
    assert (stored["persona"], stored["paused"]) == ("", False)


async def test_settings_show_the_approval_statistics(harness: Harness) -> None:
    account = await harness.create_account()
    await harness.add_serum(account["id"])
    await sign_in(harness)
    path = f"/accounts/{account['id']}/settings"
    assert "No draft of this account has been decided" in (await harness.client.get(path)).text
    for follower in ("fan-1", "fan-2"):
        event = text_event(account["external_id"], follower, "vitamin c serum code please?")
        assert (await harness.post_webhook(json.dumps(event).encode())).status_code == 200
    await harness.run_worker()
    drafts = (await harness.api("GET", f"/api/v1/drafts?account_id={account['id']}")).json()
    assert len(drafts) == 2
    approve = await harness.api("POST", f"/api/v1/drafts/{drafts[0]['id']}/approve", json={})
    assert approve.status_code == 200, approve.text
    reject = await harness.api("POST", f"/api/v1/drafts/{drafts[1]['id']}/reject", json={})
    assert reject.status_code == 200, reject.text

    page = (await harness.client.get(path)).text
    table = page[page.index("<table") :]
    intent = drafts[0]["intent"].replace("_", " ")
    assert f'<th scope="row">{intent}</th>' in table
    assert ">50%<" in table
    assert "would have been safe" in page


# The API routes over the service functions these pages added


async def test_the_api_replaces_a_cooperation_and_adds_a_product(harness: Harness) -> None:
    account = await harness.create_account()
    other = await harness.create_account(external_id="2", name="Other")
    cooperation = await harness.add_serum(account["id"])
    body = {
        "brand": "GlowLab",
        "title": "Renamed",
        "platform_posts": [{"media_id": "1789", "kind": "story"}],
    }
    replaced = await harness.api("PUT", f"/api/v1/cooperations/{cooperation['id']}", json=body)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["title"] == "Renamed"
    assert replaced.json()["starts_on"] is None
    assert [p["name"] for p in replaced.json()["products"]] == ["Vitamin C Serum"]
    with_products = await harness.api(
        "PUT",
        f"/api/v1/cooperations/{cooperation['id']}",
        json={**body, "products": [{"name": "Sneaky"}]},
    )
    assert with_products.status_code == 400

    added = await harness.api(
        "POST",
        f"/api/v1/cooperations/{cooperation['id']}/products",
        json={"name": "Night Cream", "discount_code": "NIGHT10"},
    )
    assert added.status_code == 201, added.text
    assert added.json()["cooperation_id"] == cooperation["id"]
    [stored] = await _cooperations(harness, account["id"])
    assert [p["name"] for p in stored["products"]] == ["Vitamin C Serum", "Night Cream"]
    assert (await harness.api("PUT", "/api/v1/cooperations/999", json=body)).status_code == 404

    await create_moderator(harness, "mo@test.example", [other["id"]])
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        token = await users.create_token(session, email="mo@test.example")
    headers = {"Authorization": f"Bearer {token}"}
    denied = await harness.client.put(
        f"/api/v1/cooperations/{cooperation['id']}", json=body, headers=headers
    )
    assert denied.status_code == 404
    denied = await harness.client.post(
        f"/api/v1/cooperations/{cooperation['id']}/products", json={"name": "X"}, headers=headers
    )
    assert denied.status_code == 404
    assert await _count(harness, Product) == 2
