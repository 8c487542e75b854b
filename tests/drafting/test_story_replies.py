"""A reply to a story the cooperation was shown in finds the cooperation's products."""

from __future__ import annotations

import time

from tests.harness import Harness, envelope

ACCOUNT = "17841400000000001"


def story_reply(text: str, story_id: str) -> dict[str, object]:
    ts = int(time.time() * 1000)
    item = {
        "sender": {"id": "4242"},
        "recipient": {"id": ACCOUNT},
        "timestamp": ts,
        "message": {
            "mid": f"m_story_{story_id}_{ts}",
            "text": text,
            "reply_to": {"story": {"id": story_id, "url": "https://lookaside.example/story"}},
        },
    }
    return envelope("instagram", ACCOUNT, item, ts)


async def _products_of_draft(harness: Harness, story_id: str) -> list[str]:
    account = await harness.create_account()
    await harness.set_policy(account["id"], mode="copilot")
    created = await harness.api(
        "POST",
        f"/api/v1/accounts/{account['id']}/cooperations",
        json={
            "brand": "Nordwind",
            "platform_posts": [{"kind": "story", "media_id": "18011122233344455"}],
            "products": [{"name": "Alpine Shell Jacket"}],
        },
    )
    assert created.status_code == 201, created.text
    await harness.add_serum(account["id"])
    assert (await harness.post_webhook(story_reply("😍 where from??", story_id))).status_code == 200
    await harness.run_worker()
    [draft] = (await harness.api("GET", "/api/v1/drafts?status=pending")).json()
    return [p["name"] for p in draft["products"]]


async def test_a_story_reply_finds_the_products_shown_in_it(harness: Harness) -> None:
    assert await _products_of_draft(harness, "18011122233344455") == ["Alpine Shell Jacket"]


async def test_a_reply_to_another_story_finds_nothing(harness: Harness) -> None:
    assert await _products_of_draft(harness, "99999999999999999") == []
