"""The comment triggers page over HTTP (the app in-process, SQLite and PostgreSQL): who may
read and change, add / edit / switch / delete through the forms, errors next to fields."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app.core.db import unit_of_work
from app.models import CommentTrigger
from app.users import service as users
from tests.accounts.conftest import csrf_of, sign_in
from tests.harness import Harness


@pytest.fixture
async def account(harness: Harness) -> dict[str, Any]:
    account = await harness.create_account()
    account["product_id"] = (await harness.add_serum(account["id"]))["products"][0]["id"]
    return account


async def _person(harness: Harness, email: str, account_id: int, *, owner: bool) -> None:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        await users.create_user(
            session,
            email=email,
            role="moderator",
            password="long enough",
            account_ids=[account_id],
            owner=owner,
        )


async def _triggers(harness: Harness) -> list[CommentTrigger]:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        return list(
            (await session.scalars(select(CommentTrigger).order_by(CommentTrigger.id))).all()
        )


async def _form_post(harness: Harness, page_path: str, action: str, **fields: str) -> Any:
    page = await harness.client.get(page_path)
    assert page.status_code == 200, page.text
    return await harness.client.post(action, data={"csrf_token": csrf_of(page.text), **fields})


async def test_add_edit_switch_and_delete(harness: Harness, account: dict[str, Any]) -> None:
    await sign_in(harness)
    path = f"/accounts/{account['id']}/comment-triggers"
    empty = await harness.client.get(path)
    assert "No comment triggers yet." in empty.text

    added = await _form_post(
        harness,
        path,
        path,
        keywords="SERUM, glow drops",
        media_id="17990001",
        product_id=str(account["product_id"]),
        public_reply="Sent you a DM 💌\nCheck your inbox!",
        active="on",
    )
    assert added.status_code == 303, added.text
    [trigger] = await _triggers(harness)
    assert trigger.keywords == ["SERUM", "glow drops"]
    assert (trigger.media_id, trigger.product_id, trigger.active) == (
        "17990001",
        account["product_id"],
        True,
    )
    listed = await harness.client.get(path + "?saved=added")
    assert "Trigger added." in listed.text
    assert "SERUM, glow drops" in listed.text
    assert "Vitamin C Serum" in listed.text

    edit_page = f"{path}?edit={trigger.id}"
    form = await harness.client.get(edit_page)
    assert 'action="/comment-triggers/' in form.text
    assert 'value="SERUM, glow drops"' in form.text
    changed = await _form_post(
        harness, edit_page, f"/comment-triggers/{trigger.id}", keywords="code", product_id=""
    )
    assert changed.status_code == 303, changed.text
    [trigger] = await _triggers(harness)
    assert (trigger.keywords, trigger.media_id, trigger.product_id) == (["code"], None, None)
    assert trigger.active is False  # an unticked box

    switched = await _form_post(harness, path, f"/comment-triggers/{trigger.id}/active")
    assert switched.status_code == 303
    assert (await _triggers(harness))[0].active is True

    deleted = await _form_post(harness, path, f"/comment-triggers/{trigger.id}/delete")
    assert deleted.status_code == 303
    assert await _triggers(harness) == []


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"keywords": ""}, "keywords"),
        ({"keywords": "😍"}, "keywords"),
        ({"keywords": "SERUM", "public_reply": "x" * 2201}, "public_reply"),
        ({"keywords": "SERUM", "media_id": "a b"}, "media_id"),
        ({"keywords": "SERUM", "product_id": "abc"}, "product_id"),
        ({"keywords": "SERUM", "product_id": "999999"}, "product_id"),
    ],
)
async def test_errors_are_shown_next_to_the_field(
    harness: Harness, account: dict[str, Any], fields: dict[str, str], field: str
) -> None:
    await sign_in(harness)
    path = f"/accounts/{account['id']}/comment-triggers"

    response = await _form_post(harness, path, path, **fields)

    assert response.status_code == 422, response.text
    assert f'id="f-{field}-error"' in response.text
    assert "Nothing was saved" in response.text
    assert await _triggers(harness) == []


async def test_moderators_read_only_and_strangers_get_404(
    harness: Harness, account: dict[str, Any]
) -> None:
    path = f"/accounts/{account['id']}/comment-triggers"
    await sign_in(harness)
    await _form_post(harness, path, path, keywords="SERUM", active="on")
    [trigger] = await _triggers(harness)
    await _person(harness, "mod@test.example", account["id"], owner=False)
    other = await harness.create_account(external_id="17841400000000002", access_token="IG-o")
    await _person(harness, "x@test.example", other["id"], owner=True)

    await sign_in(harness, "mod@test.example", "long enough")
    page = await harness.client.get(path)
    assert page.status_code == 200
    assert "SERUM" in page.text
    assert "Only the account's owner or an admin can change the triggers." in page.text
    assert "Add trigger" not in page.text
    refused = await harness.client.post(
        f"/comment-triggers/{trigger.id}/delete", data={"csrf_token": csrf_of(page.text)}
    )
    assert refused.status_code == 403
    assert len(await _triggers(harness)) == 1

    await sign_in(harness, "x@test.example", "long enough")
    assert (await harness.client.get(path)).status_code == 404
    home = await harness.client.get(f"/accounts/{other['id']}/comment-triggers")
    stolen = await harness.client.post(
        f"/comment-triggers/{trigger.id}/delete", data={"csrf_token": csrf_of(home.text)}
    )
    assert stolen.status_code == 404
    assert len(await _triggers(harness)) == 1


async def test_the_settings_page_links_to_the_triggers(
    harness: Harness, account: dict[str, Any]
) -> None:
    await sign_in(harness)
    page = await harness.client.get(f"/accounts/{account['id']}/settings")
    assert f'href="/accounts/{account["id"]}/comment-triggers"' in page.text


async def test_forms_need_the_csrf_token(harness: Harness, account: dict[str, Any]) -> None:
    await sign_in(harness)
    path = f"/accounts/{account['id']}/comment-triggers"
    response = await harness.client.post(path, data={"keywords": "SERUM"})
    assert response.status_code == 403
    assert await _triggers(harness) == []
