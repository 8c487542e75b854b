"""Meta's 24-hour window, seen from the drafter: when the follower's newest unanswered
message was written more than 24 hours ago, no reply could go out, so there is no LLM
call and no draft; the message stays unanswered for a person, and it is counted and
logged. Measured from when the follower wrote (Meta's timestamp), not when it reached us."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy import select
from structlog.testing import capture_logs

from app.core.clock import utc_now
from app.core.db import unit_of_work
from app.models import Conversation, Draft, User
from app.moderation.service import reply_by_hand
from tests.fakes.llm import FakeLLM
from tests.harness import LLM_URL, Harness, make_settings, running_app, text_event
from tests.ops.promtext import value

IG_ID = "17841400000000001"
FAN = "IGSID-W-1"
COUNTER = "inboxpilot_drafts_outside_window_total"


def _ms(hours_ago: float) -> int:
    return int((utc_now() - timedelta(hours=hours_ago)).timestamp() * 1000)


@pytest.fixture
async def llm_harness(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Harness, FakeLLM]]:
    settings = make_settings(database_url, str(tmp_path), OPENAI_API_KEY="test-key")
    async with running_app(settings) as harness:
        yield harness, FakeLLM(harness.router, base_url=LLM_URL)


async def _account(harness: Harness) -> int:
    account = await harness.create_account(external_id=IG_ID)
    await harness.set_policy(account["id"], mode="autopilot", min_confidence=0.6)
    await harness.add_serum(account["id"])
    account_id: int = account["id"]
    return account_id


async def _say(harness: Harness, text: str, *, hours_ago: float = 0) -> None:
    event = text_event(IG_ID, FAN, text, timestamp_ms=_ms(hours_ago) if hours_ago else None)
    assert (await harness.post_webhook(event)).status_code == 200


async def _drafts(harness: Harness) -> list[Draft]:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        return list((await session.scalars(select(Draft).order_by(Draft.id))).all())


async def _conversation(harness: Harness) -> dict[str, Any]:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        conversation_id = await session.scalar(select(Conversation.id))
    response = await harness.api("GET", f"/api/v1/conversations/{conversation_id}")
    assert response.status_code == 200
    detail: dict[str, Any] = response.json()
    return detail


async def _counted(harness: Harness) -> float:
    response = await harness.client.get("/metrics")
    return value(response.text, COUNTER)


async def test_a_message_written_more_than_24_hours_ago_is_left_for_a_person(
    llm_harness: tuple[Harness, FakeLLM],
) -> None:
    harness, llm = llm_harness
    await _account(harness)
    before = await _counted(harness)

    # Meta delivers it a day late (an outage): the follower wrote it 25 hours ago.
    await _say(harness, "what's the code for the vitamin c serum?", hours_ago=25)
    with capture_logs() as logs:
        await harness.run_worker()

    assert llm.route.call_count == 0
    assert await _drafts(harness) == []
    assert harness.graph.sent == []
    assert await _counted(harness) == before + 1
    [event] = [e for e in logs if e["event"] == "drafting.outside_window"]
    assert event["unanswered"] == 1
    assert event["hours_since_follower_wrote"] == pytest.approx(25, abs=0.1)
    assert "text" not in event  # no message text in the log
    detail = await _conversation(harness)
    [message] = detail["messages"]
    assert detail["unanswered_message_ids"] == [message["id"]]


async def test_the_window_runs_from_when_the_follower_wrote(harness: Harness) -> None:
    await _account(harness)
    # Written 23 hours ago, delivered now: an hour is left, the reply goes out.
    await _say(harness, "what's the code for the vitamin c serum?", hours_ago=23)
    await harness.run_worker()
    [draft] = await _drafts(harness)
    assert draft.status == "sent"

    # Delivered now, written now, but the worker gets to it only 25 hours later.
    await _say(harness, "and where can I buy the vitamin c serum?")
    with time_machine.travel(utc_now() + timedelta(hours=25), tick=True):
        await harness.run_worker()
    assert len(await _drafts(harness)) == 1
    assert len(harness.graph.sent) == 1
    assert len((await _conversation(harness))["unanswered_message_ids"]) == 1


async def test_an_old_message_is_drafted_while_a_newer_one_keeps_the_window_open(
    harness: Harness,
) -> None:
    await _account(harness)
    await _say(harness, "hi! what's the code for the vitamin c serum?", hours_ago=1)
    await harness.run_worker()
    # Written yesterday, delivered only now: the follower's newer message keeps Meta's
    # window open, so its answer can still go out.
    await _say(harness, "and where can I buy the vitamin c serum?", hours_ago=30)
    await harness.run_worker()

    assert [d.status for d in await _drafts(harness)] == ["sent", "sent"]
    assert len(harness.graph.sent) == 2
    assert (await _conversation(harness))["unanswered_message_ids"] == []


@pytest.mark.parametrize("human_agent", [False, True])
async def test_a_person_may_still_answer_by_hand(harness: Harness, human_agent: bool) -> None:
    account_id = await _account(harness)
    patch = {"has_human_agent": human_agent}
    assert (await harness.api("PATCH", f"/api/v1/accounts/{account_id}", json=patch)).is_success
    await _say(harness, "what's the code for the vitamin c serum?", hours_ago=30)
    await harness.run_worker()
    assert await _drafts(harness) == []

    async with unit_of_work(harness.runtime.sessionmaker) as session:
        user = await session.scalar(select(User))
        conversation_id = await session.scalar(select(Conversation.id))
        assert user is not None
        assert conversation_id is not None
        await reply_by_hand(
            session,
            harness.runtime.settings,
            user=user,
            conversation_id=conversation_id,
            text="Sorry for the wait! LENA15 gives you 15% off",
        )
    await harness.run_worker()

    assert (await _conversation(harness))["unanswered_message_ids"] == []
    if human_agent:  # within Meta's 7 days, tagged as a person's answer
        [sent] = harness.graph.sent
        assert (sent.messaging_type, sent.tag) == ("MESSAGE_TAG", "HUMAN_AGENT")
    else:  # without the Human Agent feature it cannot go out: expired, never sent
        assert harness.graph.sent == []
        [outbox] = (await harness.api("GET", f"/api/v1/accounts/{account_id}/outbox")).json()
        assert (outbox["status"], outbox["error_code"]) == ("expired", "outside_window")
