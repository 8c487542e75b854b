"""A backlog (issue 11, item 5): 2,000 DMs from 200 followers, 10 each, delivered as signed
webhooks in a shuffled order whose Meta timestamps do not follow delivery order, then
drained by the real worker (autopilot, offline drafter, Meta's Send API faked). Every
follower message ends up covered by a draft, the last one of every follower is answered
or queued, and nothing is sent twice."""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from structlog.testing import capture_logs

from app.core.clock import utc_now
from app.core.db import unit_of_work
from app.models import Draft, Job, Message, OutboundMessage
from app.registry import build_worker
from tests.harness import (
    PATH_KINDS,
    Harness,
    make_settings,
    pending_path_items,
    running_app,
    text_event,
)

IG_ID = "17841400000000001"
FOLLOWERS = 200
PER_FOLLOWER = 10
TEXTS = (
    "hi!!",
    "quick question",
    "what's the code for the vitamin c serum?",
    "how much is the vitamin c serum?",
    "can you send me the link to the glow serum?",
    "is the code still valid?",
    "thanks so much",
    "and the serum code again?",
    "where can I buy the vitamin c serum?",
    "ok thank you!",
)
DRAIN_SECONDS = 300


@pytest.fixture
async def backlog_harness(database_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    settings = make_settings(
        database_url,
        str(tmp_path),
        REPLY_DEBOUNCE_SECONDS=0,
        SEND_RATE_PER_ACCOUNT=300,  # Meta's own limit; the default 20/s would pace the test
        WORKER_POLL_SECONDS=0.01,
    )
    async with running_app(settings) as harness:
        yield harness


def _backlog(seed: int) -> list[dict[str, Any]]:
    """Each follower wrote 10 messages over the last two hours, 20 s to 2 min apart; Meta
    delivers all 2,000 in one shuffled stream."""
    rng = random.Random(seed)
    start = utc_now() - timedelta(hours=2)
    payloads = []
    for follower in range(FOLLOWERS):
        written = start + timedelta(seconds=rng.uniform(0, 1800))
        for n in range(PER_FOLLOWER):
            written += timedelta(seconds=rng.uniform(20, 120))
            payloads.append(
                text_event(
                    IG_ID,
                    f"IGSID-BL-{follower:03d}",
                    TEXTS[n],
                    mid=f"m_backlog_{follower:03d}_{n}",
                    timestamp_ms=int(written.timestamp() * 1000),
                )
            )
    rng.shuffle(payloads)
    return payloads


async def _deliver_then_drain(harness: Harness, payloads: list[dict[str, Any]]) -> None:
    """Stores the whole backlog first, as when Meta delivers faster than the workers drain
    (or they were down), then runs a worker as `inboxpilot worker` would until nothing is
    left: replies go out while later deliveries of the same followers, some written
    before those replies, still wait in the inbox."""
    for payload in payloads:
        assert (await harness.post_webhook(payload)).status_code == 200
    stop = asyncio.Event()
    running = asyncio.create_task(build_worker(harness.runtime).run_forever(stop))
    try:
        deadline = time.monotonic() + DRAIN_SECONDS
        while await pending_path_items(harness) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.25)
    finally:
        stop.set()
        await running


async def _rows(harness: Harness) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        messages = (
            await session.execute(
                select(
                    Message.id,
                    Message.conversation_id,
                    Message.direction,
                    Message.sent_at,
                    Message.mid,
                )
            )
        ).all()
        drafts = (
            await session.execute(
                select(Draft.conversation_id, Draft.reply_to_message_id, Draft.status)
            )
        ).all()
        outbound = (await session.execute(select(OutboundMessage.status))).all()
        statuses = (
            await session.execute(select(Job.kind, Job.status).where(Job.kind.in_(PATH_KINDS)))
        ).all()
    return list(messages), list(drafts), list(outbound), list(statuses)


async def test_a_shuffled_backlog_is_answered_in_full(backlog_harness: Harness) -> None:
    harness = backlog_harness
    account = await harness.create_account(external_id=IG_ID)
    await harness.set_policy(account["id"], mode="autopilot", min_confidence=0.6)
    await harness.add_serum(account["id"])

    with capture_logs() as logs:  # also spares rendering some 10,000 log lines
        await _deliver_then_drain(harness, _backlog(seed=11))

    assert await pending_path_items(harness) == 0, "not drained"
    assert [e for e in logs if e["log_level"] in {"error", "critical"}] == []
    messages, drafts, outbound, jobs = await _rows(harness)
    assert {status for _kind, status in jobs} == {"done"}
    inbound: dict[int, list[Any]] = defaultdict(list)
    ours: dict[int, list[Any]] = defaultdict(list)
    for message in messages:
        (inbound if message.direction == "in" else ours)[message.conversation_id].append(message)
    assert len(inbound) == FOLLOWERS
    assert sum(len(m) for m in inbound.values()) == FOLLOWERS * PER_FOLLOWER

    covers: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for draft in drafts:
        if draft.status != "superseded" and draft.reply_to_message_id is not None:
            covers[draft.conversation_id].append((draft.reply_to_message_id, draft.status))
    late = 0
    for conversation_id, theirs in inbound.items():
        answers = sorted(covers[conversation_id])
        for message in theirs:
            # A draft covers every follower message up to the one it replies to.
            assert any(reply_to >= message.id for reply_to, _ in answers), message.mid
        last_written = max(theirs, key=lambda m: (m.sent_at, m.id))
        last_delivered = max(theirs, key=lambda m: m.id)
        for last in (last_written, last_delivered):
            status = next(s for reply_to, s in answers if reply_to >= last.id)
            assert status in {"sent", "pending"}, (last.mid, status)
        if not ours[conversation_id]:
            continue  # one long burst: a person answers it (its pending draft covers all)
        first_reply = min((m for m in ours[conversation_id]), key=lambda m: m.id)
        late += sum(1 for m in theirs if m.id > first_reply.id and m.sent_at < first_reply.sent_at)
    # The case of the bug: messages that reached us after our reply, written before it.
    assert late >= FOLLOWERS

    sent = [d.reply_to_message_id for d in drafts if d.status == "sent"]
    assert len(set(sent)) == len(sent)
    assert len(harness.graph.sent) == len(sent) == sum(o.status == "sent" for o in outbound)
    metadata = [s.metadata for s in harness.graph.sent]
    assert len(set(metadata)) == len(metadata), "a reply went out twice"
    assert {s.recipient_id for s in harness.graph.sent} <= {
        f"IGSID-BL-{n:03d}" for n in range(FOLLOWERS)
    }
