"""The disclosure line: automatic replies say they were sent automatically, in the
follower's language; replies a person approved carry none; the line never costs a message.
Whole path: signed webhook, the real worker, Meta's Send API faked by respx."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.core.db import unit_of_work
from app.meta.limits import split_text
from app.models import Account, Conversation, Draft, OutboundMessage
from app.outbox.disclosure import NoRoomForDisclosure, default_line, with_line
from app.outbox.service import queue_reply
from tests.fakes.llm import FakeLLM
from tests.harness import LLM_URL, Harness, make_settings, running_app, text_event

IG_ID = "17841400000000001"
GERMAN = "Hallo! Was ist der Rabattcode für das Vitamin C Serum?"
GERMAN_AGAIN = "Hast du auch den Link für das Vitamin C Serum?"
DE_LINE = "— automatisch gesendet vom Assistenten von Lena Loves"


async def _account(harness: Harness, *, mode: str = "autopilot", **account: Any) -> int:
    created = await harness.create_account(external_id=IG_ID, languages=["de", "en"])
    if account:
        patched = await harness.api("PATCH", f"/api/v1/accounts/{created['id']}", json=account)
        assert patched.status_code == 200, patched.text
    await harness.set_policy(created["id"], mode=mode, min_confidence=0.6)
    await harness.add_serum(created["id"])
    account_id: int = created["id"]
    return account_id


async def _say(harness: Harness, text: str, sender: str = "fan-1") -> None:
    assert (await harness.post_webhook(text_event(IG_ID, sender, text))).status_code == 200
    await harness.run_worker()


async def _outbound(harness: Harness) -> list[OutboundMessage]:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        rows = await session.scalars(select(OutboundMessage).order_by(OutboundMessage.id))
        return list(rows.all())


def _sent(harness: Harness) -> list[str]:
    return [s.text or "" for s in harness.graph.sent]


async def test_the_first_automatic_reply_says_so_in_the_followers_language(
    harness: Harness,
) -> None:
    await _account(harness)
    await _say(harness, GERMAN)
    await _say(harness, GERMAN_AGAIN)

    first, second = _sent(harness)
    assert "LENA15" in first
    assert first.endswith("\n\n" + DE_LINE)
    assert "automati" not in second
    assert [o.disclosed for o in await _outbound(harness)] == [True, False]
    # Another conversation starts afresh.
    await _say(harness, "What's the code for the Vitamin C Serum?", sender="fan-2")
    assert _sent(harness)[2].endswith("— sent automatically by Lena Loves' assistant")


async def test_every_puts_it_on_each_and_off_on_none(harness: Harness) -> None:
    account_id = await _account(harness, disclosure="every")
    await _say(harness, GERMAN)
    await _say(harness, GERMAN_AGAIN)
    assert all(text.endswith(DE_LINE) for text in _sent(harness))

    await harness.api("PATCH", f"/api/v1/accounts/{account_id}", json={"disclosure": "off"})
    await _say(harness, GERMAN, sender="fan-2")
    assert len(_sent(harness)) == 3
    assert "automatisch" not in _sent(harness)[2]


async def test_the_accounts_own_text_replaces_the_defaults(harness: Harness) -> None:
    await _account(harness, disclosure_text="🤖 Lenas Bot hat geantwortet")
    await _say(harness, GERMAN)
    [sent] = _sent(harness)
    assert sent.endswith("\n\n🤖 Lenas Bot hat geantwortet")


async def test_an_approved_reply_carries_none_and_the_next_automatic_one_does(
    harness: Harness,
) -> None:
    account_id = await _account(harness, mode="copilot")
    await _say(harness, GERMAN)
    [pending] = (await harness.api("GET", "/api/v1/drafts", params={"status": "pending"})).json()
    approved = await harness.api("POST", f"/api/v1/drafts/{pending['id']}/approve", json={})
    assert approved.status_code == 200, approved.text
    await harness.run_worker()
    [by_person] = _sent(harness)
    assert "automatisch" not in by_person

    await harness.set_policy(account_id, mode="autopilot")
    await _say(harness, GERMAN_AGAIN)
    assert _sent(harness)[1].endswith(DE_LINE)


async def test_a_failed_send_does_not_count_as_told(harness: Harness) -> None:
    await _account(harness)
    harness.graph.recipient_unavailable()
    await _say(harness, GERMAN)
    assert harness.graph.sent == []
    await _say(harness, GERMAN_AGAIN)
    [sent] = _sent(harness)
    assert sent.endswith(DE_LINE)
    assert [(o.status, o.disclosed) for o in await _outbound(harness)] == [
        ("failed", True),
        ("sent", True),
    ]


@pytest.mark.parametrize("platform", ["instagram", "messenger"])
def test_the_line_never_adds_a_message(platform: str) -> None:
    line = default_line("Lena", "fr")
    limit = 1000 if platform == "instagram" else 2000
    room = limit - len(("\n\n" + line).encode() if platform == "instagram" else "\n\n" + line)
    assert with_line("a" * room, line, platform) is not None
    assert len(split_text(with_line("a" * room, line, platform) or "", platform)) == 1
    assert with_line("a" * (room + 1), line, platform) is None
    # A reply of several messages: the line goes in the last one when it has room.
    two = "b" * (limit - 10) + "\n\n" + "c" * 50
    joined = with_line(two, line, platform)
    assert joined is not None
    assert split_text(joined, platform)[-1].endswith(line)
    assert len(split_text(joined, platform)) == 2


async def test_a_notice_without_room_for_the_line_is_refused_not_sent_bare(
    harness: Harness,
) -> None:
    await _account(harness, disclosure="every")
    await _say(harness, "hallo", sender="fan-3")
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        account = await session.scalar(select(Account))
        conversation = await session.scalar(select(Conversation))
        assert account is not None
        assert conversation is not None
        with pytest.raises(NoRoomForDisclosure):
            await queue_reply(
                session, harness.runtime.settings, account=account,
                conversation=conversation, text="x" * 990,
            )  # fmt: skip


@pytest.fixture
async def llm_harness(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Harness, FakeLLM]]:
    settings = make_settings(database_url, str(tmp_path), OPENAI_API_KEY="k", LLM_MODEL="m-1")
    async with running_app(settings) as harness:
        yield harness, FakeLLM(harness.router, base_url=LLM_URL)


@pytest.mark.parametrize("disclosure", ["first", "off"])
async def test_an_automatic_reply_too_long_for_the_line_waits_for_a_person(
    llm_harness: tuple[Harness, FakeLLM], disclosure: str
) -> None:
    harness, llm = llm_harness
    account_id = await _account(harness, disclosure=disclosure)
    product_id = (await harness.api("GET", f"/api/v1/accounts/{account_id}/cooperations")).json()[
        0
    ]["products"][0]["id"]
    filler = " Das Serum ist toll und zieht schnell ein."
    reply = "Hallo! Mit LENA15 bekommst du 15% Rabatt auf das Vitamin C Serum."
    reply += filler * ((990 - len(reply.encode())) // len(filler.encode()))
    assert 950 < len(reply.encode()) <= 1000
    llm.script(
        reply=reply, intent="discount_code", language="de", confidence=0.95,
        product_ids=[product_id],
    )  # fmt: skip
    await _say(harness, GERMAN)
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        [draft] = (await session.scalars(select(Draft))).all()
    room_reason = "longer than one message with the line saying it was sent automatically"
    if disclosure == "first":
        assert room_reason in draft.reasons
        assert draft.status == "pending"
        assert harness.graph.sent == []
    else:
        assert room_reason not in draft.reasons
