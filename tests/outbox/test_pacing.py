"""Replies to one follower go out one at a time and in order; each account keeps its own
pace while other accounts go on at full speed; a send that runs out of attempts is
settled instead of holding back the follower's later replies. Real worker, real databases,
Meta's Send API faked at the HTTP boundary."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.clock import utc_now
from app.core.db import unit_of_work
from app.models import Account, Conversation, Job, OutboundMessage, SendStatus
from app.outbox import pacing, repository
from app.outbox.service import queue_reply
from app.registry import build_worker
from app.worker.runner import Postpone
from tests.harness import Harness, make_settings, running_app, text_event

IG_ID = "17841400000000001"
OTHER_ID = "17841400000000002"
ASK = "Vitamin C Serum code?"


async def _conversation(harness: Harness, sender: str) -> tuple[Account, Conversation]:
    await harness.post_webhook(text_event(IG_ID, sender, "hello"))
    await harness.run_worker()
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        conversation = await session.scalar(select(Conversation))
        assert conversation is not None
        account = await session.get(Account, conversation.account_id)
        assert account is not None
        return account, conversation


async def _queue(harness: Harness, sender: str, texts: list[str]) -> list[int]:
    account, conversation = await _conversation(harness, sender)
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        queued = [
            await queue_reply(
                session,
                harness.runtime.settings,
                account=account,
                conversation=conversation,
                text=text,
            )
            for text in texts
        ]
        return [outbound.id for outbound in queued]


async def _statuses(harness: Harness) -> dict[int, str]:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        rows = (await session.execute(select(OutboundMessage.id, OutboundMessage.status))).all()
        return {row.id: row.status for row in rows}


async def test_replies_to_one_follower_go_out_in_order_with_two_workers(
    harness: Harness,
) -> None:
    account = await harness.create_account(external_id=IG_ID)  # copilot: nothing goes by itself
    # The bot's own texts, compared exactly: without the disclosure line (outbox/disclosure).
    await harness.api("PATCH", f"/api/v1/accounts/{account['id']}", json={"disclosure": "off"})
    texts = ["first", "second", "third", "fourth"]
    await _queue(harness, "IGSID-1", texts)

    workers = [build_worker(harness.runtime) for _ in range(2)]
    deadline = asyncio.get_running_loop().time() + 20
    while len(harness.graph.sent) < len(texts) and asyncio.get_running_loop().time() < deadline:
        # Claimed together, the later replies wait (briefly) for the earlier ones.
        await asyncio.gather(*(worker.run_until_idle() for worker in workers))
        await asyncio.sleep(0.1)

    assert [s.text for s in harness.graph.sent] == texts
    assert set((await _statuses(harness)).values()) == {"sent"}


async def test_a_later_reply_waits_while_an_earlier_one_is_unsettled(harness: Harness) -> None:
    await harness.create_account(external_id=IG_ID)
    first, second = await _queue(harness, "IGSID-2", ["first", "second"])

    async def wait_for_earlier(session: AsyncSession, outbound_id: int) -> None:
        # As the send job reads it: the earlier unsettled reply comes with the locked row.
        sending = await repository.load_for_send(session, outbound_id, lock_account=False)
        assert sending is not None
        pacing.wait_for_earlier(sending.earlier_unsettled)

    async with unit_of_work(harness.runtime.sessionmaker) as session:
        earlier = await session.get(OutboundMessage, first)
        assert earlier is not None
        with pytest.raises(Postpone, match=f"reply {first} to this follower goes first"):
            await wait_for_earlier(session, second)
        earlier.status = SendStatus.SENDING  # being sent by another worker: still wait
        await session.flush()
        with pytest.raises(Postpone):
            await wait_for_earlier(session, second)
        earlier.status = SendStatus.FAILED  # settled, whatever the outcome: the next may go
        await session.flush()
        await wait_for_earlier(session, second)
        await wait_for_earlier(session, first)  # nothing before the first


@pytest.fixture
async def slow_harness(database_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    settings = make_settings(database_url, str(tmp_path), SEND_RATE_PER_ACCOUNT=2)
    async with running_app(settings) as harness:
        yield harness


async def test_a_paced_account_waits_while_another_goes_at_full_speed(
    slow_harness: Harness,
) -> None:
    harness = slow_harness
    for external_id in (IG_ID, OTHER_ID):
        account = await harness.create_account(external_id=external_id, name=external_id)
        await harness.set_policy(account["id"], mode="autopilot", min_confidence=0.6)
        await harness.add_serum(account["id"])
    # The clock stands still while the worker runs: on a slow machine, half a second of
    # worker time would otherwise free the busy account's next slot and let a third go.
    with time_machine.travel(utc_now(), tick=False):
        for n in range(5):
            await harness.post_webhook(text_event(IG_ID, f"IGSID-A{n}", ASK))
        for n in range(2):
            await harness.post_webhook(text_event(OTHER_ID, f"IGSID-B{n}", ASK))
        await harness.run_worker()

        recipients = [s.recipient for s in harness.graph.sent]
        # 2 per second with a burst of 2 each: the busy account's first two, and the other
        # account's two, not held back by the busy one's queue.
        assert len([r for r in recipients if r.startswith("IGSID-A")]) == 2
        assert sorted(r for r in recipients if r.startswith("IGSID-B")) == ["IGSID-B0", "IGSID-B1"]
        async with unit_of_work(harness.runtime.sessionmaker) as session:
            waiting = (
                await session.scalars(
                    select(Job.run_at)
                    .where(Job.kind == "send_reply", Job.status == "queued")
                    .order_by(Job.run_at)
                )
            ).all()
        assert len(waiting) == 3
        now = utc_now()
        # Each wakes at about its own turn, half a second apart, not all at once.
        assert all(now < at < now + timedelta(seconds=3) for at in waiting)
        assert len(set(waiting)) == 3

    with time_machine.travel(now + timedelta(seconds=5), tick=True):
        await harness.run_worker()  # a burst of two again, the third waits its turn
    assert len(harness.graph.sent) == 6
    with time_machine.travel(now + timedelta(seconds=10), tick=True):
        await harness.run_worker()
    recipients = sorted(s.recipient for s in harness.graph.sent)
    assert recipients == sorted([f"IGSID-A{n}" for n in range(5)] + ["IGSID-B0", "IGSID-B1"])


async def test_a_send_out_of_attempts_is_settled_and_frees_the_next(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, str(tmp_path), JOB_MAX_ATTEMPTS=2)
    async with running_app(settings) as harness:
        await harness.create_account(external_id=IG_ID)
        first, second = await _queue(harness, "IGSID-3", ["first", "second"])
        harness.graph.fail_with_server_error(times=2)

        await harness.run_worker()

        statuses = await _statuses(harness)
        assert statuses[first] == "failed"
        assert statuses[second] == "sent"
        assert [s.text for s in harness.graph.sent] == ["second"]
        async with unit_of_work(harness.runtime.sessionmaker) as session:
            row = await session.get(OutboundMessage, first)
            assert row is not None
            assert (row.error_code, row.last_error) == ("gave_up", "gave up after 2 attempts")
