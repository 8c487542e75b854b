"""Bearer tokens, membership, and clear errors from the JSON API."""

from __future__ import annotations

from app.core.db import unit_of_work
from app.users import service as users
from tests.harness import Harness


async def _moderator_token(harness: Harness, email: str, account_ids: list[int]) -> str:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        await users.create_user(
            session, email=email, role="moderator", password="long enough", account_ids=account_ids
        )
        return await users.create_token(session, email=email)


async def test_requests_without_a_valid_token_are_401(harness: Harness) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        response = await harness.client.get("/api/v1/accounts", headers=headers)
        assert response.status_code == 401
        assert "detail" in response.json()


async def test_moderator_sees_only_their_accounts(harness: Harness) -> None:
    mine = await harness.create_account(external_id="111", name="Mine")
    other = await harness.create_account(external_id="222", name="Other")
    await harness.add_serum(other["id"])
    token = await _moderator_token(harness, "mod@test.example", [mine["id"]])
    auth = {"Authorization": f"Bearer {token}"}

    listed = (await harness.client.get("/api/v1/accounts", headers=auth)).json()
    assert [a["id"] for a in listed] == [mine["id"]]
    for path in (
        f"/api/v1/accounts/{other['id']}",
        f"/api/v1/accounts/{other['id']}/policy",
        f"/api/v1/accounts/{other['id']}/cooperations",
        f"/api/v1/drafts?account_id={other['id']}",
        f"/api/v1/conversations?account_id={other['id']}",
    ):
        response = await harness.client.get(path, headers=auth)
        assert response.status_code == 404, path
    product_id = (await harness.api("GET", f"/api/v1/accounts/{other['id']}/cooperations")).json()[
        0
    ]["products"][0]["id"]
    assert (
        await harness.client.get(f"/api/v1/products/{product_id}", headers=auth)
    ).status_code == 404


async def test_account_lifecycle_and_policy(harness: Harness) -> None:
    account = await harness.create_account(external_id="333")
    assert account["has_access_token"] is True
    assert "access_token" not in account
    policy = (await harness.api("GET", f"/api/v1/accounts/{account['id']}/policy")).json()
    assert policy["mode"] == "copilot"

    bad = await harness.api(
        "PUT", f"/api/v1/accounts/{account['id']}/policy", json={**policy, "min_confidence": 2}
    )
    assert bad.status_code == 422
    patched = await harness.api(
        "PATCH",
        f"/api/v1/accounts/{account['id']}",
        json={"paused": True, "persona": "Dry humour."},
    )
    assert patched.json()["paused"] is True
    duplicate = await harness.api(
        "POST",
        "/api/v1/accounts",
        json={"platform": "instagram", "external_id": "333", "name": "again"},
    )
    assert duplicate.status_code == 409


async def test_catalog_crud(harness: Harness) -> None:
    account = await harness.create_account(external_id="444")
    cooperation = await harness.add_serum(account["id"])
    product_id = cooperation["products"][0]["id"]
    changed = await harness.api(
        "PATCH", f"/api/v1/products/{product_id}", json={"discount_code": "LENA20"}
    )
    assert changed.status_code == 200
    assert changed.json()["discount_code"] == "LENA20"
    invalid = await harness.api(
        "PATCH", f"/api/v1/products/{product_id}", json={"url": "not a url"}
    )
    assert invalid.status_code == 422
    assert (await harness.api("DELETE", f"/api/v1/products/{product_id}")).status_code == 204
    assert (await harness.api("GET", f"/api/v1/products/{product_id}")).status_code == 404


async def test_catalog_import_is_all_or_nothing(harness: Harness) -> None:
    account = await harness.create_account(external_id="555")
    csv_text = (
        "brand,title,name,aliases,price,currency,url,discount_code,code_valid_until\n"
        "GlowLab,Autumn,Serum,Glow|C Serum,29.90,EUR,https://glowlab.example/s,LENA15,2030-01-01\n"
        "GlowLab,Autumn,Cream,,not-a-price,EUR,https://glowlab.example/c,LENA15,2030-01-01\n"
    )
    response = await harness.api(
        "POST",
        f"/api/v1/accounts/{account['id']}/catalog/import",
        files={"file": ("catalog.csv", csv_text, "text/csv")},
    )
    assert response.status_code == 422
    assert "line 3" in response.json()["detail"]
    assert (await harness.api("GET", f"/api/v1/accounts/{account['id']}/cooperations")).json() == []

    fixed = csv_text.replace("not-a-price", "34.00")
    response = await harness.api(
        "POST",
        f"/api/v1/accounts/{account['id']}/catalog/import",
        files={"file": ("catalog.csv", fixed, "text/csv")},
    )
    assert response.status_code == 201, response.text
    result = response.json()
    assert (result["cooperations"], result["products"], result["applied"]) == (1, 2, True)
    assert result["product_counts"] == {"new": 2, "changed": 0, "unchanged": 0, "kept": 0}


async def test_reject_records_the_reason(harness: Harness) -> None:
    from tests.harness import text_event

    account = await harness.create_account(external_id="666")
    await harness.post_webhook(text_event("666", "IGSID-R", "hello there"))
    await harness.run_worker()
    [draft] = (
        await harness.api("GET", "/api/v1/drafts", params={"account_id": account["id"]})
    ).json()
    rejected = await harness.api(
        "POST", f"/api/v1/drafts/{draft['id']}/reject", json={"reason": "tone"}
    )
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["reject_reason"] == "tone"
    assert harness.graph.sent == []


async def test_ops_endpoints(harness: Harness) -> None:
    assert (await harness.client.get("/healthz")).json() == {"status": "ok"}
    ready = await harness.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    assert (await harness.client.get("/metrics")).status_code == 200
    assert (await harness.client.get("/openapi.json")).status_code == 200


async def test_retention_and_human_agent_settings(harness: Harness) -> None:
    account = await harness.create_account(external_id="888")
    assert account["retention_days"] is None
    assert account["has_human_agent"] is False
    changed = await harness.api(
        "PATCH",
        f"/api/v1/accounts/{account['id']}",
        json={"retention_days": 90, "has_human_agent": True},
    )
    assert (changed.json()["retention_days"], changed.json()["has_human_agent"]) == (90, True)
    cleared = await harness.api(
        "PATCH", f"/api/v1/accounts/{account['id']}", json={"retention_days": None}
    )
    assert cleared.json()["retention_days"] is None
    bad = await harness.api(
        "PATCH", f"/api/v1/accounts/{account['id']}", json={"retention_days": 0}
    )
    assert bad.status_code == 422


async def test_ids_out_of_range_are_rejected_not_crashing(harness: Harness) -> None:
    huge = "99999999999999999999"
    for path in (
        f"/api/v1/accounts/{huge}",
        f"/api/v1/accounts/{huge}/policy",
        f"/api/v1/products/{huge}",
        f"/api/v1/drafts/{huge}",
        f"/api/v1/conversations/{huge}",
        f"/api/v1/contacts/{huge}",
        f"/api/v1/contacts/{huge}/export",
        f"/api/v1/drafts?account_id={huge}",
        f"/api/v1/conversations?account_id=1&offset={huge}",
        "/api/v1/accounts/0",
        "/api/v1/products/-1",
    ):
        response = await harness.api("GET", path)
        assert response.status_code == 422, (path, response.status_code)
        assert "detail" in response.json()
