"""`track_links`: read and changed through the API and the settings page, by the account's
owner or an admin; other members see it and cannot change it."""

from __future__ import annotations

import re

import httpx

from app.core.db import unit_of_work
from app.users import service as users
from tests.accounts.conftest import csrf_of, sign_in
from tests.harness import Harness

MODERATOR = ("mo@test.example", "long enough")


async def _moderator(harness: Harness, account_id: int) -> str:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        await users.create_user(
            session,
            email=MODERATOR[0],
            role="moderator",
            password=MODERATOR[1],
            account_ids=[account_id],
        )
        return await users.create_token(session, email=MODERATOR[0])


async def _save(harness: Harness, path: str, **extra: str) -> httpx.Response:
    page = await harness.client.get(path)
    form = {
        "csrf_token": csrf_of(page.text),
        "persona": "Warm",
        "languages": "de, en",
        "mode": "copilot",
        "min_confidence": "0.8",
        "max_auto_replies_per_conversation_per_day": "5",
        "pause_after_human_reply_minutes": "60",
        "hold_auto_seconds": "0",
        "confirmed": "1",  # past the confirmation a change of the rules asks for
        **extra,
    }
    return await harness.client.post(path, data=form)


async def _track_links(harness: Harness, account_id: int) -> bool:
    account = (await harness.api("GET", f"/api/v1/accounts/{account_id}")).json()
    value: bool = account["track_links"]
    return value


async def test_the_api_reads_and_changes_it_for_the_owner_only(harness: Harness) -> None:
    account = await harness.create_account()
    assert account["track_links"] is True
    token = await _moderator(harness, account["id"])
    path = f"/api/v1/accounts/{account['id']}"

    refused = await harness.client.patch(
        path, json={"track_links": False}, headers={"Authorization": f"Bearer {token}"}
    )
    assert refused.status_code == 403
    same = await harness.client.patch(
        path, json={"track_links": True}, headers={"Authorization": f"Bearer {token}"}
    )
    assert same.status_code == 200  # no change, nothing to refuse
    invalid = await harness.api("PATCH", path, json={"track_links": "perhaps"})
    assert invalid.status_code == 422
    changed = await harness.api("PATCH", path, json={"track_links": False})
    assert changed.status_code == 200
    assert await _track_links(harness, account["id"]) is False


async def test_the_settings_page_turns_it_off_and_on(harness: Harness) -> None:
    account = await harness.create_account()
    await sign_in(harness)
    path = f"/accounts/{account['id']}/settings"
    page = (await harness.client.get(path)).text
    assert re.search(
        r'<input type="checkbox" id="f-track_links" name="track_links"[^>]* checked', page
    )
    assert "http://127.0.0.1:8000/l/…" in page

    off = await _save(harness, path)  # the box unticked
    assert off.status_code == 303, off.text
    assert await _track_links(harness, account["id"]) is False
    assert re.search(
        r'id="f-track_links"[^>]*value="on"\s*>', (await harness.client.get(path)).text
    )

    on = await _save(harness, path, track_links="on")
    assert on.status_code == 303, on.text
    assert await _track_links(harness, account["id"]) is True


async def test_a_moderator_sees_it_read_only_and_saves_the_rest(harness: Harness) -> None:
    account = await harness.create_account()
    await _moderator(harness, account["id"])
    await sign_in(harness, *MODERATOR)
    path = f"/accounts/{account['id']}/settings"
    page = (await harness.client.get(path)).text
    assert re.search(r'id="f-track_links"[^>]* checked disabled', page)

    saved = await _save(harness, path)  # a disabled box is never sent
    assert saved.status_code == 303, saved.text
    assert await _track_links(harness, account["id"]) is True
    stored = (await harness.api("GET", f"/api/v1/accounts/{account['id']}")).json()
    assert stored["persona"] == "Warm"
