"""The comment triggers API: validation, who may read and change, the audit log."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app.core.db import unit_of_work
from app.models import AuditEntry
from app.users import service as users
from tests.harness import Harness


async def _member(harness: Harness, email: str, account_id: int, *, owner: bool) -> dict[str, str]:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        await users.create_user(
            session,
            email=email,
            role="moderator",
            password="long enough",
            account_ids=[account_id],
            owner=owner,
        )
        token = await users.create_token(session, email=email)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def setup(harness: Harness) -> dict[str, Any]:
    account = await harness.create_account()
    cooperation = await harness.add_serum(account["id"])
    return {"account": account, "product_id": cooperation["products"][0]["id"]}


def _path(setup: dict[str, Any]) -> str:
    return f"/api/v1/accounts/{setup['account']['id']}/comment-triggers"


async def test_create_list_update_delete(harness: Harness, setup: dict[str, Any]) -> None:
    body = {
        "keywords": ["SERUM", "  glow   drops "],
        "media_id": "17990001",
        "product_id": setup["product_id"],
        "public_reply": "Sent you a DM 💌\n\n  Check your inbox!  \n",
    }
    created = await harness.api("POST", _path(setup), json=body)
    assert created.status_code == 201, created.text
    trigger = created.json()
    assert trigger["keywords"] == ["SERUM", "glow drops"]
    assert trigger["public_reply"] == "Sent you a DM 💌\nCheck your inbox!"
    assert (trigger["media_id"], trigger["active"]) == ("17990001", True)

    listed = await harness.api("GET", _path(setup))
    assert [t["id"] for t in listed.json()] == [trigger["id"]]

    changed = await harness.api(
        "PUT",
        f"/api/v1/comment-triggers/{trigger['id']}",
        json={"keywords": ["code"], "media_id": None, "product_id": None, "active": False},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["keywords"] == ["code"]
    assert (changed.json()["media_id"], changed.json()["active"]) == (None, False)
    assert changed.json()["public_reply"] is None

    deleted = await harness.api("DELETE", f"/api/v1/comment-triggers/{trigger['id']}")
    assert deleted.status_code == 204
    assert (await harness.api("GET", _path(setup))).json() == []
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        actions = (
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.action.like("comment_trigger.%"))
                .order_by(AuditEntry.id)
            )
        ).all()
    assert actions == [
        "comment_trigger.created",
        "comment_trigger.updated",
        "comment_trigger.deleted",
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"keywords": []},
        {"keywords": [""]},
        {"keywords": ["😍!!"]},
        {"keywords": ["x" * 61]},
        {"keywords": [f"k{i}" for i in range(21)]},
        {"keywords": "SERUM"},
        {"keywords": ["ok\u0000"]},
        {"keywords": ["SERUM"], "public_reply": "x" * 2201},
        {"keywords": ["SERUM"], "public_reply": "\n".join(f"v{i}" for i in range(11))},
        {"keywords": ["SERUM"], "media_id": "a/b"},
        {"keywords": ["SERUM"], "product_id": 0},
        {"keywords": ["SERUM"], "unknown": 1},
    ],
)
async def test_invalid_bodies_are_422(
    harness: Harness, setup: dict[str, Any], body: dict[str, Any]
) -> None:
    response = await harness.api("POST", _path(setup), json=body)
    assert response.status_code == 422, response.text
    assert (await harness.api("GET", _path(setup))).json() == []


async def test_a_product_of_another_account_is_422(harness: Harness, setup: dict[str, Any]) -> None:
    other = await harness.create_account(external_id="17841400000000002", access_token="IG-o")
    theirs = (await harness.add_serum(other["id"]))["products"][0]["id"]
    for product_id in (theirs, 999_999):
        response = await harness.api(
            "POST", _path(setup), json={"keywords": ["SERUM"], "product_id": product_id}
        )
        assert response.status_code == 422, response.text
        assert "product_id" in response.json()["detail"]


async def test_members_read_owner_changes(harness: Harness, setup: dict[str, Any]) -> None:
    account_id = setup["account"]["id"]
    owner = await _member(harness, "lena@test.example", account_id, owner=True)
    moderator = await _member(harness, "mod@test.example", account_id, owner=False)
    body = {"keywords": ["SERUM"], "product_id": setup["product_id"]}

    refused = await harness.client.post(_path(setup), json=body, headers=moderator)
    assert refused.status_code == 403, refused.text
    created = await harness.client.post(_path(setup), json=body, headers=owner)
    assert created.status_code == 201, created.text
    trigger_id = created.json()["id"]

    listed = await harness.client.get(_path(setup), headers=moderator)
    assert [t["id"] for t in listed.json()] == [trigger_id]
    item = f"/api/v1/comment-triggers/{trigger_id}"
    assert (await harness.client.put(item, json=body, headers=moderator)).status_code == 403
    assert (await harness.client.delete(item, headers=moderator)).status_code == 403
    assert (await harness.client.put(item, json=body, headers=owner)).status_code == 200


async def test_strangers_get_404(harness: Harness, setup: dict[str, Any]) -> None:
    created = await harness.api("POST", _path(setup), json={"keywords": ["SERUM"]})
    trigger_id = created.json()["id"]
    other = await harness.create_account(external_id="17841400000000002", access_token="IG-o")
    stranger = await _member(harness, "x@test.example", other["id"], owner=True)
    item = f"/api/v1/comment-triggers/{trigger_id}"
    body = {"keywords": ["x"]}
    assert (await harness.client.get(_path(setup), headers=stranger)).status_code == 404
    assert (await harness.client.put(item, json=body, headers=stranger)).status_code == 404
    assert (await harness.client.delete(item, headers=stranger)).status_code == 404
    assert (
        await harness.api("PUT", "/api/v1/comment-triggers/999999", json=body)
    ).status_code == 404
    assert (await harness.api("DELETE", "/api/v1/comment-triggers/0")).status_code == 422
