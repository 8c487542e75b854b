"""The queue card says which cooperation a follower's shared post or story mention is
about, for messages that came through the real webhook."""

from __future__ import annotations

import time
from typing import Any

from app.core.clock import utc_now
from app.core.db import unit_of_work
from app.models import Account
from tests.builders import create_cooperation
from tests.harness import Harness, envelope
from tests.users.web import browser, sign_in

IG_ID = "17841400000000001"


def _with_attachment(sender: str, text: str | None, attachment: dict[str, Any]) -> dict[str, Any]:
    ts = int(time.time() * 1000)
    message: dict[str, Any] = {"mid": f"m_{sender}_{ts}", "attachments": [attachment]}
    if text:
        message["text"] = text
    item = {
        "sender": {"id": sender},
        "recipient": {"id": IG_ID},
        "timestamp": ts,
        "message": message,
    }
    return envelope("instagram", IG_ID, item, ts)


async def test_the_card_names_the_cooperation(harness: Harness) -> None:
    account_id = (await harness.create_account(external_id=IG_ID))["id"]
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        account = await session.get(Account, account_id)
        assert account is not None
        glow = await create_cooperation(
            session, account, platform_posts=[{"media_id": "178900001", "kind": "reel"}]
        )
        await create_cooperation(
            session,
            account,
            brand="SunCo",
            title="Summer",
            platform_posts=[{"url": "https://instagram.com/p/SUN1/", "kind": "post"}],
        )
    shared = {
        "type": "ig_post",
        "payload": {"ig_post_media_id": "178900001", "url": "https://cdn.example/1.jpg"},
    }
    unknown = {
        "type": "ig_post",
        "payload": {"ig_post_media_id": "555", "url": "https://cdn.example/2.jpg"},
    }
    await harness.post_webhook(_with_attachment("IGSID-1", "Is this code still valid?", shared))
    await harness.post_webhook(_with_attachment("IGSID-2", "Is this code still valid?", unknown))
    await harness.run_worker()
    async with browser(harness) as client:
        await sign_in(client)
        queue = await client.get("/queue?group=0")
    assert queue.status_code == 200
    cards = queue.text.split('<article class="card qcard"')[1:]
    assert len(cards) == 2
    about = [card for card in cards if "About: GlowLab — Autumn skincare" in card]
    assert len(about) == 1
    assert "a shared post" in about[0]
    assert "About: GlowLab — Autumn skincare (from the follower’s story mention" in about[0]
    assert "SunCo" not in queue.text
    drafts = (await harness.api("GET", "/api/v1/drafts?status=pending")).json()
    assert sorted(str(d["about"]) for d in drafts) == ["GlowLab — Autumn skincare", "None"]

    today = utc_now().date().isoformat()
    report = await harness.api(
        "GET", f"/api/v1/cooperations/{glow.id}/report?from={today}&to={today}"
    )
    assert report.json()["totals"]["shares"] == 1  # the report counts the same share
