"""The signed-in home page, and what sandbox mode says about connecting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from app.core.db import unit_of_work
from app.models import Account
from tests.accounts.conftest import create_moderator, sign_in
from tests.harness import Harness, make_settings, running_app


async def _set(harness: Harness, account_id: int, **values: Any) -> None:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        await session.execute(update(Account).where(Account.id == account_id).values(**values))


async def test_home_needs_sign_in(harness: Harness) -> None:
    response = await harness.client.get("/")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/"


async def test_home_lists_accounts_with_status_and_connect_buttons(harness: Harness) -> None:
    active = await harness.create_account(name="Lena Active")
    paused = await harness.create_account(
        external_id="2", name="Paused Page", platform="messenger", graph_host="facebook"
    )
    broken = await harness.create_account(external_id="3", name="Broken IG")
    await harness.api("PATCH", f"/api/v1/accounts/{paused['id']}", json={"paused": True})
    await _set(harness, broken["id"], status="needs_reconnect", status_reason="token expired")
    await sign_in(harness)
    page = (await harness.client.get("/")).text
    assert "Lena Active" in page
    assert "Paused Page" in page
    assert "Broken IG" in page
    assert ">active<" in page
    assert ">paused<" in page
    assert ">needs reconnect<" in page
    assert "token expired" in page
    assert 'href="/oauth/instagram/start">Reconnect' in page
    assert "Connect with Facebook" in page
    assert 'href="/oauth/meta/start"' in page
    assert "Connect with Instagram" in page
    api = (await harness.api("GET", f"/api/v1/accounts/{broken['id']}")).json()
    assert api["reconnect_url"] == "/oauth/instagram/start"
    assert (await harness.api("GET", f"/api/v1/accounts/{active['id']}")).json()[
        "reconnect_url"
    ] is None


async def test_a_moderator_sees_only_their_accounts(harness: Harness) -> None:
    mine = await harness.create_account(name="Mine")
    await harness.create_account(external_id="2", name="Not mine")
    await create_moderator(harness, "mo@test.example", [mine["id"]])
    await sign_in(harness, "mo@test.example", "long enough")
    page = (await harness.client.get("/")).text
    assert "Mine" in page
    assert "Not mine" not in page


@pytest.fixture
async def sandbox(database_url: str, tmp_path: Path) -> Any:
    settings = make_settings(
        database_url, str(tmp_path), META_APP_ID=None, META_APP_SECRET=None, META_VERIFY_TOKEN=None
    )
    async with running_app(settings) as harness:
        yield harness


async def test_sandbox_says_connecting_needs_a_meta_app(sandbox: Harness) -> None:
    await sign_in(sandbox)
    page = (await sandbox.client.get("/")).text
    assert "Connecting needs a Meta app" in page
    assert "Connect with Facebook" not in page
    for path in ("/oauth/meta/start", "/oauth/instagram/start", "/oauth/meta/callback?code=x"):
        response = await sandbox.client.get(path)
        assert response.status_code == 503
        assert "Connecting needs a Meta app" in response.text
