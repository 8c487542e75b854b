"""Owner rights through the JSON API: what decides what goes out in the influencer's name,
the token, retention and the budget are the owner's (or an admin's); handing over."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app.core.db import unit_of_work
from app.models import AuditEntry
from app.users import service as users
from tests.harness import Harness


async def _user(harness: Harness, email: str, account_id: int, *, owner: bool = False) -> Any:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        user = await users.create_user(
            session,
            email=email,
            role="moderator",
            password="long enough",
            account_ids=[account_id],
            owner=owner,
        )
        token = await users.create_token(session, email=email)
    return user.id, {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def team(harness: Harness) -> dict[str, Any]:
    account = await harness.create_account()
    owner_id, owner = await _user(harness, "lena@test.example", account["id"], owner=True)
    moderator_id, moderator = await _user(harness, "mod@test.example", account["id"])
    harness.graph.own_token(
        "IGAA-new", platform="instagram", external_id=account["external_id"], graph_host="instagram"
    )
    return {
        "account": account,
        "owner": owner,
        "owner_id": owner_id,
        "moderator": moderator,
        "moderator_id": moderator_id,
    }


ACCOUNT_CHANGES = [
    {"access_token": "IGAA-new"},
    {"retention_days": 1},
    {"daily_llm_budget_usd": "500"},
    {"has_human_agent": True},
]
POLICY_CHANGES = [
    {"mode": "autopilot"},
    {"min_confidence": 0},
    {"intent_min_confidence": {"discount_code": 0.1}},
    {"auto_intents": ["discount_code", "other", "product_info"]},
    {"hold_auto_seconds": 60},
]


@pytest.mark.parametrize("change", ACCOUNT_CHANGES, ids=lambda c: next(iter(c)))
async def test_a_moderator_cannot_change_the_owners_account_settings(
    harness: Harness, team: dict[str, Any], change: dict[str, Any]
) -> None:
    path = f"/api/v1/accounts/{team['account']['id']}"
    before = (await harness.api("GET", path)).json()

    refused = await harness.client.patch(path, json=change, headers=team["moderator"])

    assert refused.status_code == 403, refused.text
    assert "owner" in refused.json()["detail"]
    assert (await harness.api("GET", path)).json() == before
    allowed = await harness.client.patch(path, json=change, headers=team["owner"])
    assert allowed.status_code == 200, allowed.text


@pytest.mark.parametrize("change", POLICY_CHANGES, ids=lambda c: next(iter(c)))
async def test_a_moderator_cannot_change_the_owners_rules(
    harness: Harness, team: dict[str, Any], change: dict[str, Any]
) -> None:
    path = f"/api/v1/accounts/{team['account']['id']}/policy"
    before = (await harness.api("GET", path)).json()

    refused = await harness.client.put(path, json={**before, **change}, headers=team["moderator"])

    assert refused.status_code == 403, refused.text
    assert (await harness.api("GET", path)).json() == before
    allowed = await harness.client.put(path, json={**before, **change}, headers=team["owner"])
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()[next(iter(change))] == next(iter(change.values()))


async def test_a_moderator_still_changes_the_rest(harness: Harness, team: dict[str, Any]) -> None:
    account_id = team["account"]["id"]
    policy = (await harness.api("GET", f"/api/v1/accounts/{account_id}/policy")).json()
    unchanged_retention = {"retention_days": None, "persona": "Dry humour.", "paused": True}

    patched = await harness.client.patch(
        f"/api/v1/accounts/{account_id}", json=unchanged_retention, headers=team["moderator"]
    )
    rules = await harness.client.put(
        f"/api/v1/accounts/{account_id}/policy",
        json={**policy, "max_auto_replies_per_conversation_per_day": 2},
        headers=team["moderator"],
    )

    assert patched.status_code == 200, patched.text
    assert patched.json()["persona"] == "Dry humour."
    assert rules.status_code == 200, rules.text


async def test_ownership_is_handed_over(harness: Harness, team: dict[str, Any]) -> None:
    account_id = team["account"]["id"]
    path = f"/api/v1/accounts/{account_id}/owner"
    grab = await harness.client.put(
        path, json={"user_id": team["moderator_id"]}, headers=team["moderator"]
    )
    assert grab.status_code == 403

    handed = await harness.client.put(
        path, json={"user_id": team["moderator_id"]}, headers=team["owner"]
    )

    assert handed.status_code == 200, handed.text
    assert {m["email"]: m["role"] for m in handed.json()} == {
        "mod@test.example": "owner",
        "lena@test.example": "moderator",
    }
    policy = (await harness.api("GET", f"/api/v1/accounts/{account_id}/policy")).json()
    now_refused = await harness.client.put(
        f"/api/v1/accounts/{account_id}/policy",
        json={**policy, "mode": "autopilot"},
        headers=team["owner"],
    )
    assert now_refused.status_code == 403
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "account.owner_changed")
        )
    assert entry is not None
    assert entry.details == {"from": "lena@test.example", "to": "mod@test.example"}


async def test_an_admin_hands_over_and_a_stranger_gets_404(
    harness: Harness, team: dict[str, Any]
) -> None:
    account_id = team["account"]["id"]
    other = await harness.create_account(external_id="17841400000000077", access_token=None)
    _, stranger = await _user(harness, "stranger@test.example", other["id"])

    for method, path in (
        ("GET", f"/api/v1/accounts/{account_id}/members"),
        ("PUT", f"/api/v1/accounts/{account_id}/owner"),
    ):
        answer = await harness.client.request(
            method, path, headers=stranger, json={"user_id": team["owner_id"]}
        )
        assert answer.status_code == 404, path
    handed = await harness.api(
        "PUT", f"/api/v1/accounts/{account_id}/owner", json={"user_id": team["moderator_id"]}
    )
    assert handed.status_code == 200
    not_a_member = await harness.api(
        "PUT", f"/api/v1/accounts/{other['id']}/owner", json={"user_id": team["owner_id"]}
    )
    assert not_a_member.status_code == 404


async def test_the_owner_cannot_be_removed_without_a_handover(
    harness: Harness, team: dict[str, Any]
) -> None:
    account_id = team["account"]["id"]
    response = await harness.api(
        "DELETE", f"/api/v1/accounts/{account_id}/members/{team['owner_id']}"
    )
    assert response.status_code == 409
    removed = await harness.client.delete(
        f"/api/v1/accounts/{account_id}/members/{team['moderator_id']}", headers=team["owner"]
    )
    assert removed.status_code == 200
    assert [m["email"] for m in removed.json()] == ["lena@test.example"]
