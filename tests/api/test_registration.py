"""Registering an account by hand: admins only, and outside sandbox mode only with a token
Meta says is the account's (issue 12, item 2)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from app.config import Settings
from app.core.db import unit_of_work
from app.users import service as users
from tests.harness import Harness, make_settings, running_app

IG = {
    "platform": "instagram",
    "external_id": "17841400000000001",
    "name": "Lena Loves",
    "access_token": "IGAA-lena",
    "graph_host": "instagram",
}
IG_VIA_PAGE = {
    "platform": "instagram",
    "external_id": "17841400000000002",
    "name": "Lena via Page",
    "access_token": "EAA-page-lena",
    "graph_host": "facebook",
}
PAGE = {
    "platform": "messenger",
    "external_id": "1111000000000001",
    "name": "Lena's Page",
    "access_token": "EAA-page-shop",
}


async def _token_of(harness: Harness, email: str, **kwargs: Any) -> dict[str, str]:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        await users.create_user(
            session, email=email, role="moderator", password="long enough", **kwargs
        )
        token = await users.create_token(session, email=email)
    return {"Authorization": f"Bearer {token}"}


async def _accounts(harness: Harness) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = (await harness.api("GET", "/api/v1/accounts")).json()
    return listed


async def test_a_moderator_cannot_register_an_account(harness: Harness) -> None:
    harness.graph.own_token(IG["access_token"], platform="instagram", **_ids(IG))
    auth = await _token_of(harness, "mod@test.example")

    response = await harness.client.post("/api/v1/accounts", json=IG, headers=auth)

    assert response.status_code == 403
    assert "admin" in response.json()["detail"]
    assert await _accounts(harness) == []
    assert harness.graph.me_calls == []  # refused before anyone asked Meta


def _ids(body: dict[str, Any]) -> dict[str, Any]:
    return {"external_id": body["external_id"], "graph_host": body.get("graph_host", "facebook")}


@pytest.mark.parametrize("body", [IG, IG_VIA_PAGE, PAGE], ids=["ig-login", "ig-page", "page"])
async def test_a_token_of_another_account_is_refused_and_nothing_saved(
    harness: Harness, body: dict[str, Any]
) -> None:
    # The token is real, but Meta says it speaks for someone else's account.
    harness.graph.own_token(
        body["access_token"],
        platform=body["platform"],
        external_id="17841499999999999",
        graph_host=body.get("graph_host", "facebook"),
    )

    response = await harness.api("POST", "/api/v1/accounts", json=body)

    assert response.status_code == 422, response.text
    assert "does not belong" in response.json()["detail"]
    assert await _accounts(harness) == []
    [call] = harness.graph.me_calls
    assert call.access_token == body["access_token"]
    host = body.get("graph_host", "facebook")
    assert call.host == host
    expected = "user_id,username" if host == "instagram" else "id,instagram_business_account"
    assert call.fields == tuple(expected.split(","))


@pytest.mark.parametrize("body", [IG, PAGE], ids=["ig-login", "page"])
async def test_a_token_meta_refuses_is_refused_and_nothing_saved(
    harness: Harness, body: dict[str, Any]
) -> None:
    # Nobody vouched for the token: the fake answers Meta's 190.
    response = await harness.api("POST", "/api/v1/accounts", json=body)

    assert response.status_code == 422, response.text
    assert "GraphTokenInvalid" in response.json()["detail"]
    assert await _accounts(harness) == []


async def test_meta_unreachable_saves_nothing_and_says_try_again(harness: Harness) -> None:
    harness.graph.own_token(IG["access_token"], platform="instagram", **_ids(IG))
    harness.graph.fail_me_next(status=500, code=2)

    response = await harness.api("POST", "/api/v1/accounts", json=IG)

    assert response.status_code == 503
    assert "try again" in response.json()["detail"]
    assert await _accounts(harness) == []


@pytest.mark.parametrize("body", [IG, IG_VIA_PAGE, PAGE], ids=["ig-login", "ig-page", "page"])
async def test_the_accounts_own_token_registers_it(harness: Harness, body: dict[str, Any]) -> None:
    harness.graph.own_token(
        body["access_token"],
        platform=body["platform"],
        page_id="1111000000000042" if body is IG_VIA_PAGE else None,
        **_ids(body),
    )

    response = await harness.api("POST", "/api/v1/accounts", json=body)

    assert response.status_code == 201, response.text
    account = response.json()
    assert account["external_id"] == body["external_id"]
    assert account["has_access_token"] is True
    if body is IG_VIA_PAGE:
        assert account["page_id"] == "1111000000000042"  # learnt from Meta's answer


async def test_a_page_id_that_is_not_the_tokens_page_is_refused(harness: Harness) -> None:
    harness.graph.own_token(
        IG_VIA_PAGE["access_token"],
        platform="instagram",
        page_id="1111000000000042",
        **_ids(IG_VIA_PAGE),
    )

    body = {**IG_VIA_PAGE, "page_id": "1111000000000666"}
    response = await harness.api("POST", "/api/v1/accounts", json=body)

    assert response.status_code == 422
    assert await _accounts(harness) == []


async def test_a_replaced_token_is_checked_too(harness: Harness) -> None:
    account = await harness.create_account(**IG)
    harness.graph.own_token(
        "IGAA-someone-else", platform="instagram", external_id="1784149", graph_host="instagram"
    )

    forged = await harness.api(
        "PATCH", f"/api/v1/accounts/{account['id']}", json={"access_token": "IGAA-someone-else"}
    )
    assert forged.status_code == 422

    harness.graph.own_token("IGAA-lena-new", platform="instagram", **_ids(IG))
    renewed = await harness.api(
        "PATCH", f"/api/v1/accounts/{account['id']}", json={"access_token": "IGAA-lena-new"}
    )
    assert renewed.status_code == 200, renewed.text
    assert [c.access_token for c in harness.graph.me_calls][-2:] == [
        "IGAA-someone-else",
        "IGAA-lena-new",
    ]


@pytest.fixture
async def sandbox(database_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    settings: Settings = make_settings(
        database_url,
        str(tmp_path),
        META_APP_ID=None,
        META_APP_SECRET=None,
        META_VERIFY_TOKEN=None,
    )
    async with running_app(settings) as harness:
        yield harness


async def test_sandbox_mode_registers_without_asking_meta(sandbox: Harness) -> None:
    response = await sandbox.api("POST", "/api/v1/accounts", json=IG)

    assert response.status_code == 201, response.text
    assert sandbox.graph.me_calls == []


async def test_sandbox_mode_still_refuses_a_moderator(sandbox: Harness) -> None:
    auth = await _token_of(sandbox, "mod@test.example")

    response = await sandbox.client.post("/api/v1/accounts", json=IG, headers=auth)

    assert response.status_code == 403


@pytest.mark.parametrize("token", ["\x80", "tok en", "IGAA\u00e9"])
async def test_a_token_that_is_not_printable_ascii_is_422_before_meta(
    harness: Harness, token: str
) -> None:
    # It could not travel in an Authorization header (found by the API fuzz test: a 500).
    created = await harness.api("POST", "/api/v1/accounts", json={**IG, "access_token": token})
    account = await harness.create_account()
    patched = await harness.api(
        "PATCH", f"/api/v1/accounts/{account['id']}", json={"access_token": token}
    )

    assert (created.status_code, patched.status_code) == (422, 422)
    assert token not in [c.access_token for c in harness.graph.me_calls]
