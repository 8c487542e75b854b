"""The timed pause after the influencer answers from the Instagram app: shown with its end
on the conversation page, ended early by "Resume now" (members only, CSRF, audited), after
which the next follower message is answered automatically again."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import time_machine
from sqlalchemy import select

from app.core.clock import utc_now
from app.core.db import unit_of_work
from app.models import AuditEntry, Conversation, Draft
from tests.accounts.conftest import create_moderator, sign_in
from tests.harness import Harness, echo_event, text_event
from tests.ui.test_queue_pages import HX, csrf_token

IG_ID = "17841400000000001"
FOLLOWER = "IGSID-PAUSE"
QUESTION = "Hi! What's the code for the Vitamin C Serum?"


async def _drafts(harness: Harness) -> list[Draft]:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        return list((await session.scalars(select(Draft).order_by(Draft.id))).all())


async def _conversation(harness: Harness) -> Conversation:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        conversation: Conversation | None = await session.scalar(select(Conversation))
        assert conversation is not None
        return conversation


async def _follower_writes(harness: Harness, text: str) -> Draft:
    assert (await harness.post_webhook(text_event(IG_ID, FOLLOWER, text))).status_code == 200
    await harness.run_worker()
    return (await _drafts(harness))[-1]


async def _paused_by_an_answer_from_instagram(harness: Harness) -> dict[str, Any]:
    account = await harness.create_account(external_id=IG_ID)
    await harness.set_policy(
        account["id"], mode="autopilot", min_confidence=0.6, pause_after_human_reply_minutes=90
    )
    await harness.add_serum(account["id"])
    first = await _follower_writes(harness, QUESTION)
    assert first.decision == "auto"
    # The influencer answers in the Instagram app: an echo no app of ours sent.
    echo = echo_event(IG_ID, FOLLOWER, "Answered you myself!")
    assert (await harness.post_webhook(echo)).status_code == 200
    await harness.run_worker()
    return account


async def test_the_pause_is_shown_with_its_end_and_resume_now_ends_it(harness: Harness) -> None:
    # At 10:00 UTC the 90-minute pause ends the same day, shown as a time alone (run at
    # 22:34 it ended the next day, which the page rightly names: see the test below).
    tomorrow = utc_now().date() + timedelta(days=1)
    with time_machine.travel(datetime.combine(tomorrow, time(10), tzinfo=UTC), tick=True):
        await _pause_shown_and_ended(harness)


async def _pause_shown_and_ended(harness: Harness) -> None:
    await _paused_by_an_answer_from_instagram(harness)
    conversation = await _conversation(harness)
    assert conversation.paused_until is not None
    while_paused = await _follower_writes(harness, QUESTION)
    assert while_paused.decision == "review"
    assert any("replied recently" in r for r in while_paused.reasons)

    await sign_in(harness)
    path = f"/conversations/{conversation.id}"
    page = (await harness.client.get(path)).text
    until = f"{conversation.paused_until:%H:%M} UTC"
    assert f"Paused until {until} because you answered from Instagram" in page
    assert "Resume now" in page
    assert "Automation on" not in page
    listing = (await harness.client.get("/conversations")).text
    assert f"paused until {conversation.paused_until:%H:%M}</span>" in listing

    refused = await harness.client.post(f"{path}/resume", headers={**HX, "X-CSRF-Token": "no"})
    assert refused.status_code == 403
    assert (await _conversation(harness)).paused_until is not None

    resumed = await harness.client.post(
        f"{path}/resume", headers={**HX, "X-CSRF-Token": csrf_token(page)}
    )
    assert resumed.status_code == 200
    assert "Automation on" in resumed.text
    assert "Resumed" in resumed.text
    assert (await _conversation(harness)).paused_until is None
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        [entry] = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "conversation.resumed")
            )
        ).all()
    assert entry.user_id is not None
    assert datetime.fromisoformat(entry.details["ended_pause_until"]) == conversation.paused_until

    after = await _follower_writes(harness, QUESTION)
    assert after.id != while_paused.id
    assert not any("replied recently" in r for r in after.reasons), after.reasons
    assert after.decision == "auto"


async def test_a_non_member_cannot_see_or_end_the_pause(harness: Harness) -> None:
    await _paused_by_an_answer_from_instagram(harness)
    other = await harness.create_account(external_id="17841400000000999", name="Other")
    await create_moderator(harness, "mo@test.example", [other["id"]])
    conversation = await _conversation(harness)
    await sign_in(harness, "mo@test.example", "long enough")
    path = f"/conversations/{conversation.id}"
    assert (await harness.client.get(path)).status_code == 404
    own = (await harness.client.get("/conversations")).text
    token = csrf_token(own)
    refused = await harness.client.post(f"{path}/resume", headers={**HX, "X-CSRF-Token": token})
    assert refused.status_code == 404
    assert (await _conversation(harness)).paused_until == conversation.paused_until


async def test_a_pause_ending_another_day_names_the_day_and_an_ended_one_is_not_shown(
    harness: Harness,
) -> None:
    account = await harness.create_account(external_id=IG_ID)
    await harness.set_policy(account["id"], pause_after_human_reply_minutes=60 * 24 * 2)
    await harness.post_webhook(text_event(IG_ID, FOLLOWER, "hello"))
    await harness.post_webhook(echo_event(IG_ID, FOLLOWER, "hi from the app"))
    await harness.run_worker()
    conversation = await _conversation(harness)
    until = conversation.paused_until
    assert until is not None
    await sign_in(harness)
    page = (await harness.client.get(f"/conversations/{conversation.id}")).text
    label = f"{until:%a} {until.day} {until:%b %H:%M} UTC"
    assert f"Paused until {label} because you answered from Instagram" in page
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        stored = await session.get(Conversation, conversation.id)
        assert stored is not None
        stored.paused_until = utc_now() - timedelta(minutes=1)  # as if two days went by
    later = (await harness.client.get(f"/conversations/{conversation.id}")).text
    assert "Automation on" in later
    assert "Paused until" not in later
