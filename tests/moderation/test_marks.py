"""Marks on replies the bot sent alone: any member marks, only the owner pauses an intent,
and a paused intent's next draft waits in the queue."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app.core.db import unit_of_work
from app.models import AuditEntry
from app.users import service as users
from tests.harness import Harness, text_event

IG_ID = "17841400000000001"
CODE_QUESTION = "Hi! What's the code for the Vitamin C Serum?"


async def _user(
    harness: Harness, email: str, account_ids: list[int], *, owner: bool = False
) -> Any:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        await users.create_user(
            session,
            email=email,
            role="moderator",
            password="long enough",
            account_ids=account_ids,
            owner=owner,
        )
        token = await users.create_token(session, email=email)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def team(harness: Harness) -> dict[str, Any]:
    account = await harness.create_account(external_id=IG_ID)
    await harness.set_policy(account["id"], mode="autopilot", min_confidence=0.6)
    await harness.add_serum(account["id"])
    other = await harness.create_account(external_id="other-ig", name="Other")
    return {
        "account": account,
        "owner": await _user(harness, "lena@test.example", [account["id"]], owner=True),
        "moderator": await _user(harness, "mod@test.example", [account["id"]]),
        "stranger": await _user(harness, "x@test.example", [other["id"]]),
    }


async def _sent_alone(harness: Harness, follower: str) -> dict[str, Any]:
    await harness.post_webhook(text_event(IG_ID, follower, CODE_QUESTION))
    await harness.run_worker()
    drafts = (await harness.api("GET", "/api/v1/drafts", params={"status": "sent"})).json()
    draft: dict[str, Any] = drafts[0]
    assert draft["decision"] == "auto"
    return draft


async def _stats(harness: Harness, account_id: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = (
        await harness.api("GET", f"/api/v1/accounts/{account_id}/approval-stats")
    ).json()
    return rows


async def test_marked_wrong_then_paused_the_next_such_draft_waits(
    harness: Harness, team: dict[str, Any]
) -> None:
    account_id = team["account"]["id"]
    draft = await _sent_alone(harness, "IGSID-1")
    assert [(r["auto_sent"], r["marked_wrong"]) for r in await _stats(harness, account_id)] == [
        (1, 0)
    ]

    marked = await harness.client.put(
        f"/api/v1/drafts/{draft['id']}/mark",
        json={"mark": "wrong", "note": "answered none of her questions"},
        headers=team["moderator"],
    )
    assert marked.status_code == 200, marked.text
    assert marked.json()["mark"] == "wrong"
    [row] = await _stats(harness, account_id)
    assert (row["intent"], row["auto_sent"], row["marked_wrong"], row["marked_right"]) == (
        draft["intent"],
        1,
        1,
        0,
    )

    path = f"/api/v1/accounts/{account_id}/policy/auto-intents/{draft['intent']}"
    refused = await harness.client.delete(path, headers=team["moderator"])
    assert refused.status_code == 403
    paused = await harness.client.delete(path, headers=team["owner"])
    assert paused.status_code == 200, paused.text
    assert draft["intent"] not in paused.json()["auto_intents"]

    await harness.post_webhook(text_event(IG_ID, "IGSID-2", CODE_QUESTION))
    await harness.run_worker()
    [waiting] = (await harness.api("GET", "/api/v1/drafts")).json()
    assert waiting["status"] == "pending"
    assert f"intent '{draft['intent']}' needs review" in waiting["reasons"]
    assert len(harness.graph.sent) == 1
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        actions = list(
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.action.in_(["draft.marked", "policy.intent_paused"]))
                .order_by(AuditEntry.id)
            )
        )
    assert actions == ["draft.marked", "policy.intent_paused"]


async def test_a_mark_is_changed_not_added(harness: Harness, team: dict[str, Any]) -> None:
    draft = await _sent_alone(harness, "IGSID-3")
    path = f"/api/v1/drafts/{draft['id']}/mark"
    for mark in ("wrong", "right"):
        response = await harness.client.put(path, json={"mark": mark}, headers=team["owner"])
        assert response.status_code == 200
    [row] = await _stats(harness, team["account"]["id"])
    assert (row["marked_right"], row["marked_wrong"]) == (1, 0)
    listed = await harness.client.get(
        f"/api/v1/accounts/{team['account']['id']}/sent-automatically",
        headers=team["moderator"],
    )
    [sent] = listed.json()
    assert sent["mark"]["mark"] == "right"
    assert sent["follower_text"] == CODE_QUESTION
    assert sent["products"] == ["Vitamin C Serum"]
    removed = await harness.client.delete(path, headers=team["moderator"])
    assert removed.status_code == 204
    [row] = await _stats(harness, team["account"]["id"])
    assert (row["marked_right"], row["marked_wrong"]) == (0, 0)


async def test_strangers_get_404_and_queued_drafts_cannot_be_marked(
    harness: Harness, team: dict[str, Any]
) -> None:
    draft = await _sent_alone(harness, "IGSID-4")
    account_id = team["account"]["id"]
    stranger = team["stranger"]
    for method, path, body in [
        ("PUT", f"/api/v1/drafts/{draft['id']}/mark", {"mark": "wrong"}),
        ("GET", f"/api/v1/accounts/{account_id}/sent-automatically", None),
        ("GET", f"/api/v1/accounts/{account_id}/dashboard", None),
        ("GET", f"/api/v1/accounts/{account_id}/proposals", None),
        ("DELETE", f"/api/v1/accounts/{account_id}/policy/auto-intents/price", None),
    ]:
        response = await harness.client.request(method, path, json=body, headers=stranger)
        assert response.status_code == 404, (method, path, response.text)

    await harness.set_policy(account_id, mode="copilot")
    await harness.post_webhook(text_event(IG_ID, "IGSID-5", CODE_QUESTION))
    await harness.run_worker()
    [queued] = (await harness.api("GET", "/api/v1/drafts")).json()
    response = await harness.api(
        "PUT", f"/api/v1/drafts/{queued['id']}/mark", json={"mark": "right"}
    )
    assert response.status_code == 409
    bad = await harness.api("PUT", f"/api/v1/drafts/{draft['id']}/mark", json={"mark": "meh"})
    assert bad.status_code == 422
