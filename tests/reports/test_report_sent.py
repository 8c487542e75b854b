"""The report of replies that went the real way: a follower's DM, the draft approved through
the API with the serum's code and link, a reply by hand and one the bot sent alone through
the outbox (compose fills codes_sent / links_sent), sent by the worker to Meta's faked Send
API. Both databases."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from app.core.db import unit_of_work
from app.models import Account, Conversation, User
from app.outbox.service import queue_reply
from tests.harness import Harness, text_event

IG_ID = "17841400000000001"
SERUM = "https://glowlab.example/serum"


async def _send_alone_and_by_hand(harness: Harness, account_id: int) -> None:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        account = await session.get(Account, account_id)
        conversation = await session.scalar(select(Conversation))
        admin = await session.scalar(select(User).where(User.role == "admin"))
        assert account is not None
        assert conversation is not None
        settings = harness.runtime.settings
        await queue_reply(
            session,
            settings,
            account=account,
            conversation=conversation,
            text=f"Here it is: {SERUM}",
            user=admin,
        )
        await queue_reply(
            session, settings, account=account, conversation=conversation, text="LENA15 again!"
        )


async def test_replies_sent_through_the_outbox_count(harness: Harness) -> None:
    account_id = (await harness.create_account(external_id=IG_ID))["id"]
    cooperation: dict[str, Any] = await harness.add_serum(account_id)
    await harness.post_webhook(text_event(IG_ID, "IGSID-7", "What is the code for the serum?"))
    await harness.run_worker()
    pending = (await harness.api("GET", "/api/v1/drafts?status=pending")).json()
    assert len(pending) == 1
    approved = await harness.api(
        "POST",
        f"/api/v1/drafts/{pending[0]['id']}/approve",
        json={"text": f"The code is LENA15, the serum is at {SERUM}"},
    )
    assert approved.status_code == 200, approved.text
    await _send_alone_and_by_hand(harness, account_id)
    # Replies to one follower go out one after the other: a later one may wait a moment.
    deadline = asyncio.get_running_loop().time() + 20
    while len(harness.graph.sent) < 3 and asyncio.get_running_loop().time() < deadline:
        await harness.run_worker()
        await asyncio.sleep(0.1)
    assert len(harness.graph.sent) == 3

    path = f"/api/v1/cooperations/{cooperation['id']}/report"
    report = (await harness.api("GET", path)).json()
    product = cooperation["products"][0]["id"]
    expected = {"replies_sent": 3, "auto_sent": 1, "approved": 1, "by_hand": 1}
    expected |= {"codes_sent": 2, "links_sent": 2, "clicks": 0, "comment_replies": 0}
    assert report["totals"] == {**expected, "story_mentions": 0, "shares": 0}
    assert report["products"] == [{"product_id": product, "name": "Vitamin C Serum", **expected}]
    assert report["days"][-1]["replies_sent"] == 3  # today, the last day of the range
