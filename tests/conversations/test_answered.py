"""What still waits for an answer (app.conversations.answered): follower messages that no
draft and no person's reply has taken into account, in the order they reached us,
whatever Meta's timestamps say. Signed webhooks through the real worker; the rule itself
on rows built directly."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.conversations import repository
from app.conversations.answered import (
    answered_by_hand,
    newest_unanswered_id,
    unanswered_messages,
)
from app.core.clock import utc_now
from app.core.db import unit_of_work
from app.models import Conversation, Draft, Message, User
from app.moderation.service import reply_by_hand
from tests.builders import (
    create_account,
    create_contact,
    create_conversation,
    create_draft,
    create_message,
)
from tests.fakes.llm import FakeLLM
from tests.harness import LLM_URL, Harness, envelope, make_settings, running_app, text_event

IG_ID = "17841400000000001"
FAN = "IGSID-AN-1"
CODE = "what's the code for the vitamin c serum?"
OILY_SKIN = "is the vitamin c serum good for oily skin?"  # product_info: reviewed


def _ms(minutes_ago: float) -> int:
    return int((utc_now() - timedelta(minutes=minutes_ago)).timestamp() * 1000)


async def _say(harness: Harness, text: str, *, minutes_ago: float) -> str:
    """A follower message written `minutes_ago`, delivered now."""
    mid = f"m_an_{uuid.uuid4().hex}"
    event = text_event(IG_ID, FAN, text, mid=mid, timestamp_ms=_ms(minutes_ago))
    assert (await harness.post_webhook(event)).status_code == 200
    return mid


async def _follower_event(harness: Harness, **content: Any) -> None:
    now = _ms(0)
    item = {"sender": {"id": FAN}, "recipient": {"id": IG_ID}, "timestamp": now, **content}
    assert (await harness.post_webhook(envelope("instagram", IG_ID, item, now))).status_code == 200


async def _autopilot(harness: Harness) -> None:
    account = await harness.create_account(external_id=IG_ID)
    await harness.set_policy(account["id"], mode="autopilot", min_confidence=0.6)
    await harness.add_serum(account["id"])


async def _copilot(harness: Harness) -> int:
    account = await harness.create_account(external_id=IG_ID)
    cooperation = await harness.add_serum(account["id"])
    product_id: int = cooperation["products"][0]["id"]
    return product_id


async def _state(harness: Harness) -> tuple[dict[str, int], list[Draft], list[str]]:
    """The follower's message ids by mid, every draft, and the mids still unanswered."""
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        conversation = await session.scalar(select(Conversation))
        assert conversation is not None
        messages = await session.scalars(
            select(Message).where(Message.conversation_id == conversation.id)
        )
        ids = {m.mid or "": m.id for m in messages}
        drafts = list((await session.scalars(select(Draft).order_by(Draft.id))).all())
        waiting = await unanswered_messages(session, conversation.id)
        return ids, drafts, [m.mid or "" for m in waiting]


@pytest.fixture
async def llm_harness(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Harness, FakeLLM]]:
    settings = make_settings(database_url, str(tmp_path), OPENAI_API_KEY="test-key")
    async with running_app(settings) as harness:
        yield harness, FakeLLM(harness.router, base_url=LLM_URL)


# --- through the whole path ---------------------------------------------------------------


async def test_messages_delivered_out_of_order_are_answered_together(
    llm_harness: tuple[Harness, FakeLLM],
) -> None:
    harness, llm = llm_harness
    product_id = await _copilot(harness)
    llm.script(
        reply="Hey! LENA15 gives you 15% off",
        intent="discount_code",
        language="en",
        confidence=0.9,
        product_ids=[product_id],
    )
    second = await _say(harness, "and the code for it?", minutes_ago=1)
    first = await _say(harness, "hi, I love the vitamin c serum", minutes_ago=3)
    await harness.run_worker()

    ids, [draft], waiting = await _state(harness)
    # One draft for both, replying to the one that reached us last...
    assert llm.route.call_count == 1
    assert draft.reply_to_message_id == ids[first] > ids[second]
    assert waiting == []
    # ...and the model reads them in the order the follower wrote them.
    prompt = "\n".join(str(m["content"]) for m in llm.last_request["messages"])
    assert "hi, I love the vitamin c serum\nand the code for it?" in prompt


async def test_a_message_delivered_after_our_reply_to_a_later_one_is_answered(
    harness: Harness,
) -> None:
    await _autopilot(harness)
    await _say(harness, CODE, minutes_ago=1)
    await harness.run_worker()
    assert len(harness.graph.sent) == 1

    # Written before our reply went out, delivered after it (Meta redelivering).
    late = await _say(harness, "and where can I buy the vitamin c serum?", minutes_ago=5)
    await harness.run_worker()

    ids, drafts, waiting = await _state(harness)
    assert [d.reply_to_message_id for d in drafts][-1] == ids[late]
    assert [d.status for d in drafts] == ["sent", "sent"]
    assert len(harness.graph.sent) == 2
    assert waiting == []


async def test_an_unsent_late_message_withdraws_its_draft_and_nothing_else(
    harness: Harness,
) -> None:
    await _autopilot(harness)
    await _say(harness, CODE, minutes_ago=1)
    await harness.run_worker()
    late = await _say(harness, OILY_SKIN, minutes_ago=5)
    await harness.run_worker()
    _ids, [_sent, waiting_draft], _ = await _state(harness)
    assert waiting_draft.status == "pending"

    await _follower_event(harness, message={"mid": late, "is_deleted": True})
    await harness.run_worker()

    _ids, drafts, waiting = await _state(harness)
    assert [(d.status, d.reject_reason) for d in drafts] == [
        ("sent", None),
        ("superseded", "follower deleted the message"),
    ]
    assert waiting == []
    assert len(harness.graph.sent) == 1


async def test_an_edit_redrafts_what_the_withdrawn_draft_covered(harness: Harness) -> None:
    await _copilot(harness)
    first = await _say(harness, "what's the price of the vitamin c serum?", minutes_ago=1)
    await harness.run_worker()
    late = await _say(harness, "hello!", minutes_ago=5)
    await harness.run_worker()
    ids, drafts, _ = await _state(harness)
    assert [(d.status, d.reply_to_message_id) for d in drafts] == [
        ("superseded", ids[first]),
        ("pending", ids[late]),
    ]

    edit = {"mid": first, "text": CODE, "num_edit": 1}
    await _follower_event(harness, message_edit=edit)
    await harness.run_worker()

    ids, drafts, waiting = await _state(harness)
    assert [d.status for d in drafts] == ["superseded", "superseded", "pending"]
    assert drafts[1].reject_reason == "follower edited the message"
    # The new draft covers both messages again: it replies to the one that came last.
    assert drafts[2].reply_to_message_id == ids[late]
    assert waiting == []


async def test_an_edit_of_an_answered_message_is_not_answered_again(harness: Harness) -> None:
    await _autopilot(harness)
    first = await _say(harness, "what's the price of the vitamin c serum?", minutes_ago=1)
    await harness.run_worker()
    await _follower_event(harness, message_edit={"mid": first, "text": CODE, "num_edit": 1})
    await harness.run_worker()

    _ids, drafts, waiting = await _state(harness)
    assert [d.status for d in drafts] == ["sent"]
    assert waiting == []
    assert len(harness.graph.sent) == 1


async def test_a_reply_in_metas_apps_covers_what_reached_us_before_it(harness: Harness) -> None:
    await _copilot(harness)
    await _say(harness, CODE, minutes_ago=2)
    await harness.run_worker()
    echo = envelope(
        "instagram",
        IG_ID,
        {
            "sender": {"id": IG_ID},
            "recipient": {"id": FAN},
            "timestamp": _ms(1),
            "message": {"mid": f"echo_{uuid.uuid4().hex}", "text": "LENA15!", "is_echo": True},
        },
        _ms(1),
    )
    await harness.post_webhook(echo)
    await harness.run_worker()

    _ids, [draft], waiting = await _state(harness)
    assert (draft.status, draft.reject_reason) == ("superseded", "influencer replied")
    assert waiting == []

    # Written before the influencer's reply but delivered after it: the influencer's reply
    # covers what had reached us, so this one is drafted (for review: a person just spoke).
    late = await _say(harness, OILY_SKIN, minutes_ago=3)
    await harness.run_worker()
    ids, drafts, waiting = await _state(harness)
    assert (drafts[-1].status, drafts[-1].reply_to_message_id) == ("pending", ids[late])
    assert waiting == []


async def test_a_reply_by_hand_in_the_desk_covers_what_came_before_it(harness: Harness) -> None:
    await _copilot(harness)
    await _say(harness, CODE, minutes_ago=2)
    await harness.run_worker()
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        user = await session.scalar(select(User))
        conversation = await session.scalar(select(Conversation))
        assert user is not None
        assert conversation is not None
        await reply_by_hand(
            session,
            harness.runtime.settings,
            user=user,
            conversation_id=conversation.id,
            text="Hi! LENA15 gives you 15% off",
        )

    _ids, [draft], waiting = await _state(harness)
    assert draft.status == "superseded"
    assert waiting == []  # answered as soon as the person sent it, before it went out
    await harness.run_worker()
    assert [s.text for s in harness.graph.sent] == ["Hi! LENA15 gives you 15% off"]
    _ids, drafts, waiting = await _state(harness)
    assert len(drafts) == 1
    assert waiting == []


# --- the rule on its own -----------------------------------------------------------------


async def test_only_drafts_still_standing_and_replies_by_hand_cover(session: AsyncSession) -> None:
    account = await create_account(session)
    conversation = await create_conversation(
        session, account, await create_contact(session, account)
    )
    long_ago = utc_now() - timedelta(hours=3)
    # Ids follow arrival; Meta's timestamps do not (the last one was written first).
    first = await create_message(session, conversation, mid="m1", sent_at=long_ago)
    second = await create_message(session, conversation, mid="m2")
    third = await create_message(session, conversation, mid="m3", sent_at=long_ago)
    await create_message(session, conversation, mid="r1", kind="reaction", text=None)
    await create_message(session, conversation, mid="e1", direction="out", author="bot", text="Hi!")

    async def waiting() -> list[str | None]:
        return [m.mid for m in await unanswered_messages(session, conversation.id)]

    assert await waiting() == ["m1", "m2", "m3"]
    await create_draft(session, conversation, second, status="superseded")
    assert await waiting() == ["m1", "m2", "m3"]  # a superseded draft covers nothing
    await create_draft(session, conversation, first, status="rejected")
    assert await waiting() == ["m2", "m3"]  # any other outcome does
    await answered_by_hand(session, conversation.id, through_id=second.id)
    assert await waiting() == ["m3"]
    await answered_by_hand(session, conversation.id, through_id=first.id)
    assert await waiting() == ["m3"]  # the mark only rises
    assert await newest_unanswered_id(session, conversation.id) == third.id
    assert [m.mid for m in await unanswered_messages(session, conversation.id, limit=1)] == ["m3"]
    await answered_by_hand(session, conversation.id)  # a reply by hand: all stored so far
    assert await waiting() == []
    assert await newest_unanswered_id(session, conversation.id) is None


async def test_a_conversations_messages_become_visible_in_id_order(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Two messages of one follower stored side by side: the second waits for the first
    to commit, so no draft can see a higher id while a lower one is still to come (it
    would count the lower one as answered without having read it)."""
    async with unit_of_work(sessionmaker) as session:
        account = await create_account(session)
        contact = await create_contact(session, account)
        await create_conversation(session, account, contact)

    async def store(session: AsyncSession, mid: str) -> int:
        conversation = await repository.get_or_create_conversation(session, account.id, contact.id)
        values = {
            "account_id": account.id,
            "conversation_id": conversation.id,
            "mid": mid,
            "direction": "in",
            "author": "follower",
            "kind": "text",
            "text": mid,
            "payload": {},
            "sent_at": utc_now(),
        }
        inserted = await repository.insert_message(session, values)
        assert inserted is not None
        await session.commit()
        return inserted

    async with sessionmaker() as first, sessionmaker() as second:
        await repository.get_or_create_conversation(first, account.id, contact.id)
        racing = asyncio.create_task(store(second, "m2"))
        await asyncio.sleep(0.2)
        assert not racing.done()  # waits for the first event of the conversation
        first_id = await store(first, "m1")
        second_id = await racing
    assert first_id < second_id
