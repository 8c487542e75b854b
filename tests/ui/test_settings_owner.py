"""The settings page: other members see the owner's rules read-only and cannot change them
with a forged form; the owner changes them, hands the account over, sees its members."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest

from tests.harness import Harness
from tests.users.web import browser, create_user, csrf_of, sign_in

OWNER, MODERATOR = "lena@test.example", "mod@test.example"
PASSWORD = "long enough password"


@pytest.fixture
async def account(harness: Harness) -> dict[str, Any]:
    account = await harness.create_account()
    await create_user(harness, OWNER, password=PASSWORD, account_ids=[account["id"]])
    await create_user(harness, MODERATOR, password=PASSWORD, account_ids=[account["id"]])
    owner_id = next(
        m["user_id"]
        for m in (await harness.api("GET", f"/api/v1/accounts/{account['id']}/members")).json()
        if m["email"] == OWNER
    )
    handed = await harness.api(
        "PUT", f"/api/v1/accounts/{account['id']}/owner", json={"user_id": owner_id}
    )
    assert handed.status_code == 200
    return account


def _form(html: str, **changes: Any) -> dict[str, Any]:
    """What a browser submits for the settings form as shown (disabled inputs left out)."""
    data: dict[str, Any] = {"csrf_token": csrf_of(html)}
    form = re.split(r'action="/accounts/\d+/settings"', html, maxsplit=1)[1]
    form = form.split("</form>", 1)[0]
    for tag in re.findall(r"<(?:input|textarea)[^>]*>(?:[^<]*</textarea>)?", form):
        if " disabled" in tag or 'name="' not in tag:
            continue
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        assert name is not None
        kind = re.search(r'type="([^"]+)"', tag)
        if kind and kind.group(1) in ("checkbox", "radio") and " checked" not in tag:
            continue
        if tag.startswith("<textarea"):
            text = re.search(r">([^<]*)</textarea>", tag)
            data[name.group(1)] = text.group(1) if text else ""
        elif name.group(1) in data and isinstance(data[name.group(1)], list):
            data[name.group(1)].append(value.group(1) if value else "")
        elif name.group(1) == "auto_intents":
            data.setdefault("auto_intents", []).append(value.group(1) if value else "")
        elif name.group(1) != "csrf_token":
            data[name.group(1)] = value.group(1) if value else ""
    data.update(changes)
    return data


def _hidden(html: str, **extra: str) -> dict[str, list[str]]:
    """What the confirmation's form submits: its hidden inputs, and the button pressed."""
    data: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html):
        data.setdefault(unescape(name), []).append(unescape(value))
    return data | {name: [value] for name, value in extra.items()}


async def _policy(harness: Harness, account_id: int) -> dict[str, Any]:
    policy: dict[str, Any] = (
        await harness.api("GET", f"/api/v1/accounts/{account_id}/policy")
    ).json()
    return policy


async def test_a_moderator_sees_the_owners_rules_read_only(
    harness: Harness, account: dict[str, Any]
) -> None:
    async with browser(harness) as client:
        await sign_in(client, MODERATOR, PASSWORD)
        page = await client.get(f"/accounts/{account['id']}/settings")

    assert page.status_code == 200
    assert f"Only the account's owner ({OWNER}) or an admin can change" in page.text
    owner_rules = ("mode", "min_confidence", "auto_intents", "intent_min_confidence.price")
    for name in (*owner_rules, "hold_auto_seconds"):
        tags = re.findall(rf'<input[^>]*name="{re.escape(name)}"[^>]*>', page.text)
        assert tags, name
        assert all(" disabled" in tag for tag in tags), name
    persona = re.search(r"<textarea[^>]*name=\"persona\"[^>]*>", page.text)
    assert persona is not None
    assert " disabled" not in persona.group(0)
    # The members, so everyone sees who reads the account's messages.
    assert OWNER in page.text
    assert MODERATOR in page.text
    assert "Make owner" not in page.text


@pytest.mark.parametrize(
    "forged",
    [
        {"mode": "autopilot"},
        {"min_confidence": "0"},
        {"intent_min_confidence.discount_code": "0.1"},
        {"auto_intents": ["other"]},
        {"hold_auto_seconds": "30"},
    ],
    ids=lambda f: next(iter(f)),
)
async def test_a_forged_form_from_a_moderator_is_refused(
    harness: Harness, account: dict[str, Any], forged: dict[str, Any]
) -> None:
    before = await _policy(harness, account["id"])
    async with browser(harness) as client:
        await sign_in(client, MODERATOR, PASSWORD)
        page = await client.get(f"/accounts/{account['id']}/settings")
        response = await client.post(
            f"/accounts/{account['id']}/settings",
            data=_form(page.text, persona="Changed by the moderator", **forged),
        )

    assert response.status_code == 403, response.text
    assert "Nothing was saved" in response.text
    assert await _policy(harness, account["id"]) == before
    current = (await harness.api("GET", f"/api/v1/accounts/{account['id']}")).json()
    assert current["persona"] != "Changed by the moderator"


async def test_a_moderator_saves_what_is_theirs(harness: Harness, account: dict[str, Any]) -> None:
    before = await _policy(harness, account["id"])
    async with browser(harness) as client:
        await sign_in(client, MODERATOR, PASSWORD)
        page = await client.get(f"/accounts/{account['id']}/settings")
        response = await client.post(
            f"/accounts/{account['id']}/settings",
            data=_form(
                page.text,
                persona="Warm and brief.",
                max_auto_replies_per_conversation_per_day="3",
            ),
        )

    assert response.status_code == 303, response.text
    after = await _policy(harness, account["id"])
    assert after == {**before, "max_auto_replies_per_conversation_per_day": 3}
    current = (await harness.api("GET", f"/api/v1/accounts/{account['id']}")).json()
    assert current["persona"] == "Warm and brief."


async def test_the_owner_changes_the_rules_and_hands_over(
    harness: Harness, account: dict[str, Any]
) -> None:
    async with browser(harness) as client:
        await sign_in(client, OWNER, PASSWORD)
        page = await client.get(f"/accounts/{account['id']}/settings")
        assert "You see them read-only" not in page.text
        saved = await client.post(
            f"/accounts/{account['id']}/settings",
            data=_form(
                page.text,
                mode="autopilot",
                min_confidence="0.85",
                hold_auto_seconds="45",
                **{"intent_min_confidence.price": "0.95"},
            ),
        )
        # Nothing is saved before the owner has read what changes.
        assert saved.status_code == 200, saved.text
        assert "Mode: copilot becomes autopilot." in saved.text
        assert "Minimum confidence: 0.80 becomes 0.85." in saved.text
        assert "Price answers: minimum confidence 0.80 becomes 0.95." in saved.text
        assert "From now on, no answers go out without review" in saved.text
        assert (await _policy(harness, account["id"]))["mode"] == "copilot"
        saved = await client.post(
            f"/accounts/{account['id']}/settings", data=_hidden(saved.text, confirmed="1")
        )
        assert saved.status_code == 303, saved.text
        page = await client.get(f"/accounts/{account['id']}/settings")
        assert 'name="intent_min_confidence.price" value="0.95"' in page.text
        moderator_id = next(
            m["user_id"]
            for m in (await harness.api("GET", f"/api/v1/accounts/{account['id']}/members")).json()
            if m["email"] == MODERATOR
        )
        handed = await client.post(
            f"/accounts/{account['id']}/members/{moderator_id}/owner",
            data={"csrf_token": csrf_of(page.text)},
        )

    assert handed.status_code == 303
    policy = await _policy(harness, account["id"])
    assert policy["mode"] == "autopilot"
    assert policy["min_confidence"] == 0.85
    assert policy["intent_min_confidence"] == {"price": 0.95}
    assert policy["hold_auto_seconds"] == 45
    members = (await harness.api("GET", f"/api/v1/accounts/{account['id']}/members")).json()
    assert {m["email"]: m["role"] for m in members} == {MODERATOR: "owner", OWNER: "moderator"}


async def test_a_moderator_cannot_hand_over_through_the_page(
    harness: Harness, account: dict[str, Any]
) -> None:
    async with browser(harness) as client:
        await sign_in(client, MODERATOR, PASSWORD)
        page = await client.get(f"/accounts/{account['id']}/settings")
        members = (await harness.api("GET", f"/api/v1/accounts/{account['id']}/members")).json()
        me = next(m["user_id"] for m in members if m["email"] == MODERATOR)
        response = await client.post(
            f"/accounts/{account['id']}/members/{me}/owner",
            data={"csrf_token": csrf_of(page.text)},
        )

    assert response.status_code == 403
    members = (await harness.api("GET", f"/api/v1/accounts/{account['id']}/members")).json()
    assert {m["email"]: m["role"] for m in members} == {OWNER: "owner", MODERATOR: "moderator"}


async def test_the_confirmation_goes_back_to_the_form_as_typed(
    harness: Harness, account: dict[str, Any]
) -> None:
    async with browser(harness) as client:
        await sign_in(client, OWNER, PASSWORD)
        page = await client.get(f"/accounts/{account['id']}/settings")
        confirm = await client.post(
            f"/accounts/{account['id']}/settings",
            data=_form(page.text, persona="Brief & warm", auto_intents=["price", "other"]),
        )
        assert "Discount-code answers will wait for review." in confirm.text
        assert "Other answers may be sent without review." in confirm.text
        back = await client.post(
            f"/accounts/{account['id']}/settings", data=_hidden(confirm.text, edit="1")
        )
    assert back.status_code == 200
    assert "Brief &amp; warm</textarea>" in back.text
    assert re.search(r'<input type="checkbox"[^>]*value="other" checked', back.text)
    policy = await _policy(harness, account["id"])
    assert "other" not in policy["auto_intents"]
