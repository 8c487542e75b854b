"""An account registered before its owner connects it: the Meta login makes the influencer
its only owner, and whoever was there first loses access until the owner keeps them."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from app.core.db import unit_of_work
from app.models import AuditEntry
from app.users import service as users
from tests.accounts.conftest import (
    create_moderator,
    csrf_of,
    facebook_login,
    instagram_login,
    pick,
    sign_in,
)
from tests.fakes.meta_oauth import FakeMetaOAuth
from tests.harness import Harness, text_event

INFLUENCER = ("lena@test.example", "long enough")
SQUATTER = "squatter@test.example"


async def _api_token(harness: Harness, email: str) -> dict[str, str]:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        token = await users.create_token(session, email=email)
    return {"Authorization": f"Bearer {token}"}


async def _members(harness: Harness, account_id: int) -> dict[str, str]:
    response = await harness.api("GET", f"/api/v1/accounts/{account_id}/members")
    assert response.status_code == 200, response.text
    return {m["email"]: m["role"] for m in response.json()}


async def _squatted(harness: Harness, **account: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """An account registered by hand, with a moderator member who got in first."""
    created = await harness.create_account(**account)
    await create_moderator(harness, SQUATTER, [created["id"]])
    await create_moderator(harness, INFLUENCER[0])
    return created, await _api_token(harness, SQUATTER)


async def _can_read(harness: Harness, auth: dict[str, str], account_id: int) -> bool:
    paths = (
        f"/api/v1/accounts/{account_id}",
        f"/api/v1/conversations?account_id={account_id}",
        f"/api/v1/drafts?account_id={account_id}",
    )
    codes = {(await harness.client.get(p, headers=auth)).status_code for p in paths}
    assert len(codes) == 1, codes
    return codes == {200}


async def test_instagram_login_makes_the_influencer_the_only_owner(
    harness: Harness, meta: FakeMetaOAuth
) -> None:
    account, squatter = await _squatted(harness, external_id="17841400000000001")
    await harness.post_webhook(text_event("17841400000000001", "IGSID-1", "hi, code?"))
    await harness.run_worker()
    assert await _can_read(harness, squatter, account["id"])

    await sign_in(harness, *INFLUENCER)
    response = await instagram_login(harness, meta)

    assert response.status_code == 303, response.text
    assert await _members(harness, account["id"]) == {
        INFLUENCER[0]: "owner",
        SQUATTER: "suspended",
    }
    assert not await _can_read(harness, squatter, account["id"])
    assert (await harness.client.get("/api/v1/accounts", headers=squatter)).json() == []
    conversation = (
        await harness.api("GET", "/api/v1/conversations", params={"account_id": account["id"]})
    ).json()[0]
    messages = await harness.client.get(
        f"/api/v1/conversations/{conversation['id']}", headers=squatter
    )
    assert messages.status_code == 404
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        claimed = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "account.claimed")
        )
    assert claimed is not None
    assert claimed.account_id == account["id"]


async def test_facebook_login_claims_a_page_registered_by_hand(
    harness: Harness, meta: FakeMetaOAuth
) -> None:
    account, squatter = await _squatted(
        harness,
        platform="messenger",
        external_id="1111000000000001",
        access_token="EAA-typed-in",
        graph_host="facebook",
    )

    await sign_in(harness, *INFLUENCER)
    picker = await facebook_login(harness, meta)
    connected = await pick(
        harness, picker.headers["location"], messenger=["1111000000000001"], instagram=[]
    )

    assert connected.status_code == 303, connected.text
    assert await _members(harness, account["id"]) == {
        INFLUENCER[0]: "owner",
        SQUATTER: "suspended",
    }
    assert not await _can_read(harness, squatter, account["id"])


async def test_the_owner_sees_who_had_access_and_keeps_or_removes_them(
    harness: Harness, meta: FakeMetaOAuth
) -> None:
    account, squatter = await _squatted(harness, external_id="17841400000000001")
    await create_moderator(harness, "colleague@test.example", [account["id"]])
    await sign_in(harness, *INFLUENCER)
    await instagram_login(harness, meta)

    settings = await harness.client.get(f"/accounts/{account['id']}/settings")
    assert settings.status_code == 200
    assert SQUATTER in settings.text
    assert "colleague@test.example" in settings.text
    assert "had access to this account before its owner connected it" in settings.text
    csrf = csrf_of(settings.text)
    members = {m["email"]: m["user_id"] for m in (await _list(harness, account["id"]))}

    kept = await harness.client.post(
        f"/accounts/{account['id']}/members/{members['colleague@test.example']}/keep",
        data={"csrf_token": csrf},
    )
    removed = await harness.client.post(
        f"/accounts/{account['id']}/members/{members[SQUATTER]}/remove",
        data={"csrf_token": csrf},
    )

    assert (kept.status_code, removed.status_code) == (303, 303)
    assert await _members(harness, account["id"]) == {
        INFLUENCER[0]: "owner",
        "colleague@test.example": "moderator",
    }
    assert not await _can_read(harness, squatter, account["id"])
    colleague = await _api_token(harness, "colleague@test.example")
    assert await _can_read(harness, colleague, account["id"])

    # A reconnect by the owner changes nobody's access.
    await instagram_login(harness, meta)
    assert await _members(harness, account["id"]) == {
        INFLUENCER[0]: "owner",
        "colleague@test.example": "moderator",
    }


async def test_a_suspended_member_cannot_keep_themselves(
    harness: Harness, meta: FakeMetaOAuth
) -> None:
    account, squatter = await _squatted(harness, external_id="17841400000000001")
    await sign_in(harness, *INFLUENCER)
    await instagram_login(harness, meta)
    members = {m["email"]: m["user_id"] for m in (await _list(harness, account["id"]))}

    response = await harness.client.post(
        f"/api/v1/accounts/{account['id']}/members/{members[SQUATTER]}/keep", headers=squatter
    )

    assert response.status_code == 404
    assert (await _members(harness, account["id"]))[SQUATTER] == "suspended"


async def test_a_login_by_someone_else_moves_ownership_to_them(
    harness: Harness, meta: FakeMetaOAuth
) -> None:
    await create_moderator(harness, INFLUENCER[0])
    await create_moderator(harness, "manager@test.example")
    await sign_in(harness, *INFLUENCER)
    await instagram_login(harness, meta)
    [account] = (await harness.api("GET", "/api/v1/accounts")).json()

    # Someone else who can log in as the account proves control too.
    await sign_in(harness, "manager@test.example", "long enough")
    await instagram_login(harness, meta)

    assert await _members(harness, account["id"]) == {
        "manager@test.example": "owner",
        INFLUENCER[0]: "suspended",
    }


async def _list(harness: Harness, account_id: int) -> list[dict[str, Any]]:
    response: httpx.Response = await harness.api("GET", f"/api/v1/accounts/{account_id}/members")
    found: list[dict[str, Any]] = response.json()
    return found
