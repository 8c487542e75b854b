"""Thanks for story mentions: one short DM, when the account wants it; else as before."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

from app.core.db import unit_of_work
from app.models import AuditEntry, Draft
from tests.harness import Harness, envelope, text_event

IG_ID = "17841400000000001"


def _mention(sender: str, mid: str) -> dict[str, Any]:
    ts = int(time.time() * 1000)
    item = {
        "sender": {"id": sender},
        "recipient": {"id": IG_ID},
        "timestamp": ts,
        "message": {
            "mid": mid,
            "attachments": [
                {"type": "story_mention", "payload": {"url": "https://cdn.example/story/1"}}
            ],
        },
    }
    return envelope("instagram", IG_ID, item, ts)


async def _account(harness: Harness, **policy: Any) -> int:
    created = await harness.create_account(external_id=IG_ID, languages=["en", "de"])
    await harness.set_policy(created["id"], mode="autopilot", min_confidence=0.6, **policy)
    await harness.add_serum(created["id"])
    account_id: int = created["id"]
    return account_id


async def _deliver(harness: Harness, payload: dict[str, Any]) -> None:
    assert (await harness.post_webhook(payload)).status_code == 200
    await harness.run_worker()


async def _drafts(harness: Harness) -> list[Draft]:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        return list((await session.scalars(select(Draft).order_by(Draft.id))).all())


async def test_a_story_mention_is_thanked_once(harness: Harness) -> None:
    await _account(harness, thank_story_mentions=True)
    await _deliver(harness, _mention("fan-1", "m_story_1"))
    await _deliver(harness, _mention("fan-1", "m_story_1"))  # redelivered

    [sent] = harness.graph.sent
    assert sent.recipient_id == "fan-1"
    assert (sent.text or "").startswith("Thank you so much for mentioning me in your story!")
    assert (sent.text or "").endswith("— sent automatically by Lena Loves' assistant")
    assert await _drafts(harness) == []  # answered by the thanks, not queued for review
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert actions.count("notice.story_thanks") == 1

    # Another mention the same day: no second thanks, and still nothing to review.
    await _deliver(harness, _mention("fan-1", "m_story_2"))
    assert len(harness.graph.sent) == 1
    assert await _drafts(harness) == []


async def test_the_influencers_own_thanks(harness: Harness) -> None:
    await _account(harness, thank_story_mentions=True, story_mention_thanks="Danke dir, Süße! 😘")
    await _deliver(harness, _mention("fan-2", "m_story_3"))
    assert (harness.graph.sent[0].text or "").startswith("Danke dir, Süße! 😘")


async def test_off_leaves_mentions_as_before(harness: Harness) -> None:
    await _account(harness)  # thank_story_mentions defaults to off
    await _deliver(harness, _mention("fan-3", "m_story_4"))
    assert all("story" not in (s.text or "") for s in harness.graph.sent)
    drafts = await _drafts(harness)
    assert len(drafts) == 1  # drafted as any follower message, as before


async def test_no_thanks_to_a_follower_who_opted_out(harness: Harness) -> None:
    await _account(harness, thank_story_mentions=True)
    await _deliver(harness, text_event(IG_ID, "fan-4", "STOP"))
    assert len(harness.graph.sent) == 1  # the confirmation
    await _deliver(harness, _mention("fan-4", "m_story_5"))
    assert len(harness.graph.sent) == 1
    [draft] = await _drafts(harness)
    assert draft.status == "pending"
