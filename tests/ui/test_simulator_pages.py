"""The sandbox simulator and outbox pages: a DM typed as a follower goes through the signed
webhook path, the worker drafts it, and the progress fragment follows it to the outbox or
the queue."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.commands import webhook_body
from app.config import Settings
from app.core.db import unit_of_work
from app.meta.sandbox import follower_text_event
from app.models import Account, InboxEvent
from tests.accounts.conftest import create_moderator, csrf_of, sign_in
from tests.harness import Harness, make_settings, running_app

SANDBOX = {"META_APP_ID": None, "META_APP_SECRET": None, "META_VERIFY_TOKEN": None}


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, str(tmp_path), **SANDBOX)


async def _account(harness: Harness, **overrides: Any) -> dict[str, Any]:
    account = await harness.create_account(external_id="sandbox-ig", access_token=None, **overrides)
    await harness.add_serum(account["id"])
    return account


async def _send(
    harness: Harness, account_id: int, text: str, *, sender: str = "fan-1", htmx: bool = False
) -> Any:
    form = await harness.client.get(f"/simulator?account_id={account_id}")
    assert form.status_code == 200, form.text
    headers = {"HX-Request": "true"} if htmx else {}
    return await harness.client.post(
        "/simulator",
        data={
            "csrf_token": csrf_of(form.text),
            "account_id": str(account_id),
            "sender": sender,
            "text": text,
        },
        headers=headers,
    )


def _progress_url(html: str) -> str:
    found = re.search(r'hx-get="(/simulator/progress\?[^"]+)"', html)
    assert found is not None, html
    return found.group(1).replace("&amp;", "&")


async def test_a_simulated_dm_is_drafted_and_sent_to_the_sandbox_outbox(harness: Harness) -> None:
    account = await _account(harness)
    await harness.set_policy(account["id"], mode="autopilot", min_confidence=0.6)
    await sign_in(harness)
    response = await _send(harness, account["id"], "What was the code for the vitamin C serum?")
    assert response.status_code == 303
    landing = await harness.client.get(response.headers["location"])
    assert "Waiting for the worker" in landing.text or "Message stored" in landing.text
    progress = _progress_url(landing.text)

    await harness.run_worker()
    fragment = (await harness.client.get(progress)).text
    assert "Sent" in fragment
    assert "send automatically" in fragment
    assert "LENA15" in fragment
    assert "hx-trigger" not in fragment  # settled: the fragment stops polling
    assert harness.graph.calls == []

    outbox = await harness.client.get(f"/accounts/{account['id']}/outbox")
    assert outbox.status_code == 200
    assert "Sandbox outbox" in outbox.text
    assert "LENA15" in outbox.text
    assert "automatic" in outbox.text


async def test_a_queued_draft_is_approved_and_then_shown_as_sent(harness: Harness) -> None:
    account = await _account(harness)  # a new account is in copilot: everything is reviewed
    await sign_in(harness)
    response = await _send(harness, account["id"], "Hi, the serum code please?", htmx=True)
    assert response.status_code == 200
    assert response.headers["HX-Push-Url"].startswith("/simulator?")
    progress = _progress_url(response.text)

    await harness.run_worker()
    fragment = (await harness.client.get(progress)).text
    assert "needs review" in fragment
    assert 'href="/queue"' in fragment
    assert "mode is copilot" in fragment
    assert "hx-trigger" in fragment  # still waiting: a moderator may approve it elsewhere

    drafts = (await harness.api("GET", f"/api/v1/drafts?account_id={account['id']}")).json()
    assert len(drafts) == 1
    approved = await harness.api("POST", f"/api/v1/drafts/{drafts[0]['id']}/approve", json={})
    assert approved.status_code == 200, approved.text
    await harness.run_worker()
    fragment = (await harness.client.get(progress)).text
    assert "approved by a moderator" in fragment
    assert "sandbox outbox" in fragment
    outbox = (await harness.client.get(f"/accounts/{account['id']}/outbox")).text
    assert "approved by a moderator" in outbox


async def test_the_simulator_stores_the_event_the_cli_would_send(harness: Harness) -> None:
    account = await _account(harness)
    await sign_in(harness)
    await _send(harness, account["id"], "hello there", sender="fan-7")
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        [stored] = (await session.scalars(select(InboxEvent))).all()
        model = await session.get(Account, account["id"])
        assert model is not None
        cli = webhook_body(model, sender="fan-7", text="hello there")
        shared = follower_text_event(model, sender="fan-7", text="hello there")
    body = json.loads(stored.body)

    def shape(event: dict[str, Any]) -> Any:
        item = event["entry"][0]["messaging"][0]
        return (
            event["object"],
            event["entry"][0]["id"],
            item["sender"],
            item["recipient"],
            item["message"]["text"],
            sorted(item),
            sorted(event["entry"][0]),
        )

    assert shape(body) == shape(cli) == shape(shared)


async def test_follower_script_text_is_escaped(harness: Harness) -> None:
    account = await _account(harness)
    await sign_in(harness)
    response = await _send(harness, account["id"], "<script>alert(1)</script> code?")
    landing = await harness.client.get(response.headers["location"])
    await harness.run_worker()
    fragment = (await harness.client.get(_progress_url(landing.text))).text
    assert "<script>alert(1)</script>" not in fragment
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in fragment
    page = (await harness.client.get(response.headers["location"])).text
    assert "<script>alert(1)" not in page


async def test_bad_input_is_explained_and_nothing_is_stored(harness: Harness) -> None:
    account = await _account(harness)
    await sign_in(harness)
    empty = await _send(harness, account["id"], "   ")
    assert empty.status_code == 422
    assert "Type the follower" in empty.text
    spaced = await _send(harness, account["id"], "hi", sender="has spaces", htmx=True)
    assert spaced.status_code == 200
    assert "Follower id" in spaced.text
    assert "HX-Push-Url" not in spaced.headers
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        assert (await session.scalars(select(InboxEvent))).all() == []


async def test_csrf_missing_is_refused_and_nothing_is_stored(harness: Harness) -> None:
    account = await _account(harness)
    await sign_in(harness)
    response = await harness.client.post(
        "/simulator", data={"account_id": str(account["id"]), "text": "hi"}
    )
    assert response.status_code == 403
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        assert (await session.scalars(select(InboxEvent))).all() == []


async def test_another_accounts_simulator_progress_and_outbox_are_404(harness: Harness) -> None:
    mine = await _account(harness)
    other = await harness.create_account(external_id="other-ig", name="Other", access_token=None)
    await create_moderator(harness, "mo@test.example", [mine["id"]])
    await sign_in(harness, "mo@test.example", "long enough")
    page = (await harness.client.get("/simulator")).text
    assert "Lena Loves" in page
    assert "Other" not in page
    assert (await harness.client.get(f"/accounts/{other['id']}/outbox")).status_code == 404
    assert (await harness.client.get(f"/accounts/{mine['id']}/outbox")).status_code == 200
    progress = await harness.client.get(f"/simulator/progress?account_id={other['id']}&mid=x")
    assert progress.status_code == 404
    response = await _send(harness, other["id"], "hello")
    assert response.status_code == 404
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        assert (await session.scalars(select(InboxEvent))).all() == []


async def test_the_simulator_is_404_outside_sandbox_mode(database_url: str, tmp_path: Path) -> None:
    async with running_app(make_settings(database_url, str(tmp_path))) as harness:
        account = await harness.create_account()
        await sign_in(harness)
        page = await harness.client.get("/simulator")
        assert page.status_code == 404
        assert "sandbox mode" in page.text
        progress = await harness.client.get(f"/simulator/progress?account_id={account['id']}&mid=x")
        assert progress.status_code == 404
        home = await harness.client.get("/")
        form = csrf_of(home.text)
        posted = await harness.client.post(
            "/simulator", data={"csrf_token": form, "account_id": str(account["id"]), "text": "x"}
        )
        assert posted.status_code == 404
        async with unit_of_work(harness.runtime.sessionmaker) as session:
            assert (await session.scalars(select(InboxEvent))).all() == []


async def test_home_links_each_account_to_its_pages(harness: Harness) -> None:
    account = await _account(harness)
    await sign_in(harness)
    home = (await harness.client.get("/")).text
    for path in ("settings", "outbox"):
        assert f'href="/accounts/{account["id"]}/{path}"' in home
    assert f'href="/catalog?account_id={account["id"]}"' in home
    assert f'href="/simulator?account_id={account["id"]}"' in home
