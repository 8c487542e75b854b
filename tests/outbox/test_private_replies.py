"""Private replies to comments and the public reply under them: out to Meta once, within
Meta's 7 days (Live: 4 hours), under Meta's hourly cap, and the public reply only after the
private reply went. Real worker, both databases, Meta's Graph API faked at the HTTP boundary.

The comment's row (CommentReply) is inserted, the reply queued with the real
`queue_reply(..., comment_id=...)`, as comment triggers do (tests/outbox/comment_seed.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import select

from app.accounts.linking import REQUEUE_ERROR_CODES, requeue_failed_sends
from app.conversations.ingest import OUR_METADATA_PREFIX
from app.core.clock import utc_now
from app.core.db import unit_of_work
from app.models import (
    Account,
    AuditEntry,
    Conversation,
    Job,
    Message,
    OutboundMessage,
)
from app.outbox import private_reply
from app.outbox.service import queue_reply
from app.worker.kinds import JobKind
from app.worker.queue import enqueue
from app.worker.runner import Postpone
from tests.builders import create_contact, create_conversation
from tests.harness import Harness, echo_event
from tests.outbox.comment_seed import (
    IG_ID,
    PAGE_ID,
    PUBLIC,
    TEXT,
    comment_row,
    facebook_page,
    instagram,
    outbound_row,
    queue_comment,
)


async def _actions(harness: Harness, prefix: str) -> list[tuple[str, dict[str, Any]]]:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        rows = await session.scalars(
            select(AuditEntry).where(AuditEntry.action.startswith(prefix)).order_by(AuditEntry.id)
        )
        return [(r.action, r.details) for r in rows]


async def _send_again(harness: Harness, outbound_id: int | None) -> None:
    """A second send job for the same row, as a redelivered or duplicated job would be."""
    assert outbound_id is not None
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        await enqueue(session, JobKind.SEND_REPLY, {"outbound_id": outbound_id})


# --- the private reply ----------------------------------------------------------------------


async def test_instagram_private_reply_goes_once_then_the_public_reply(harness: Harness) -> None:
    account_id = await instagram(harness)
    queued = await queue_comment(harness, account_id, "17900000000000001")

    await harness.run_worker()
    await _send_again(harness, queued.outbound_id)  # the job runs a second time
    await harness.run_worker()

    [sent] = harness.graph.sent
    assert (sent.host, sent.sender_id, sent.comment_id) == ("instagram", IG_ID, queued.comment_id)
    assert sent.body["recipient"] == {"comment_id": queued.comment_id}
    # The same metadata as a DM's: the echo tells us it arrived.
    metadata = f"{OUR_METADATA_PREFIX}{queued.outbound_id}"
    # The bot's first message to this follower says it was sent automatically.
    expected = f"{TEXT}\n\n— sent automatically by Lena Loves' assistant"
    assert sent.body["message"] == {"text": expected, "metadata": metadata}
    outbound = await outbound_row(harness, queued.outbound_id)
    assert (outbound.status, outbound.external_ids) == ("sent", [sent.message_id])
    # The sent message is in the commenter's thread like a DM.
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        recorded = await session.scalar(select(Message).where(Message.outbound_id == outbound.id))
        assert recorded is not None
        assert (recorded.direction, recorded.text) == ("out", expected)

    [public] = harness.graph.comment_replies
    assert (public.host, public.comment_id, public.edge, public.message) == (
        "instagram",
        queued.comment_id,
        "replies",
        PUBLIC,
    )
    row = await comment_row(harness, queued.comment_reply_id)
    assert (row.public_reply_status, row.public_reply_id) == ("posted", public.reply_id)
    assert [a for a, _ in await _actions(harness, "comment.")] == ["comment.public_reply_posted"]
    [(_, details)] = [e for e in await _actions(harness, "outbox.") if e[0] == "outbox.sent"]
    assert details["comment_id"] == queued.comment_id


async def test_facebook_page_private_reply_and_public_reply_on_comments(harness: Harness) -> None:
    account_id = await facebook_page(harness)
    queued = await queue_comment(harness, account_id, f"{PAGE_ID}_555_777")

    await harness.run_worker()

    [sent] = harness.graph.sent
    assert (sent.host, sent.sender_id, sent.comment_id) == ("facebook", PAGE_ID, queued.comment_id)
    assert sent.access_token == "EAAGpage-token"
    [public] = harness.graph.comment_replies
    assert (public.host, public.edge, public.comment_id, public.access_token) == (
        "facebook",
        "comments",
        queued.comment_id,
        "EAAGpage-token",
    )
    assert (await comment_row(harness, queued.comment_reply_id)).public_reply_status == "posted"


async def test_a_comment_older_than_7_days_expires_without_a_call(harness: Harness) -> None:
    account_id = await instagram(harness)
    old = await queue_comment(harness, account_id, "1790-old", age=timedelta(days=7, minutes=1))
    fresh = await queue_comment(harness, account_id, "1790-fresh", age=timedelta(days=6, hours=23))

    await harness.run_worker()

    expired = await outbound_row(harness, old.outbound_id)
    assert (expired.status, expired.error_code) == ("expired", "comment_too_old")
    assert [s.comment_id for s in harness.graph.sent] == ["1790-fresh"]
    assert (await outbound_row(harness, fresh.outbound_id)).status == "sent"
    skipped = await comment_row(harness, old.comment_reply_id)
    assert skipped.public_reply_status == "skipped"
    assert "comment_too_old" in (skipped.public_reply_error or "")
    assert [r.comment_id for r in harness.graph.comment_replies] == ["1790-fresh"]


async def test_a_live_comment_is_answered_only_within_4_hours_and_never_publicly(
    harness: Harness,
) -> None:
    account_id = await instagram(harness)
    late = await queue_comment(
        harness, account_id, "live-late", live=True, age=timedelta(hours=4, minutes=1)
    )
    during = await queue_comment(harness, account_id, "live-now", live=True, age=timedelta(hours=1))

    await harness.run_worker()

    assert (await outbound_row(harness, late.outbound_id)).error_code == "comment_too_old"
    assert [s.comment_id for s in harness.graph.sent] == ["live-now"]
    assert harness.graph.comment_replies == []
    row = await comment_row(harness, during.comment_reply_id)
    assert (row.public_reply_status, row.public_reply_error) == (
        "skipped",
        "never posted publicly under a live comment",
    )


async def test_already_replied_fails_without_retry_and_skips_the_public_reply(
    harness: Harness,
) -> None:
    account_id = await instagram(harness)
    queued = await queue_comment(harness, account_id, "1790-dup")
    harness.graph.already_replied()

    await harness.run_worker()
    await _send_again(harness, queued.outbound_id)
    await harness.run_worker()

    outbound = await outbound_row(harness, queued.outbound_id)
    assert (outbound.status, outbound.error_code) == ("failed", "already_replied")
    assert len(harness.graph.calls) == 1  # never retried
    assert harness.graph.comment_replies == []
    assert (await comment_row(harness, queued.comment_reply_id)).public_reply_status == "skipped"
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        jobs = (
            await session.scalars(select(Job.status).where(Job.kind == JobKind.SEND_REPLY))
        ).all()
    assert set(jobs) == {"done"}  # settled, not a broken job


async def test_a_second_row_for_the_same_comment_is_never_sent(harness: Harness) -> None:
    account_id = await instagram(harness)
    first = await queue_comment(harness, account_id, "1790-twice")
    await harness.run_worker()
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        account = await session.get(Account, account_id)
        outbound = await session.get(OutboundMessage, first.outbound_id)
        assert account is not None
        assert outbound is not None
        conversation = await session.get(Conversation, outbound.conversation_id)
        assert conversation is not None
        again = await queue_reply(
            session,
            harness.runtime.settings,
            account=account,
            conversation=conversation,
            text="Again!",
            comment_id="1790-twice",
        )
    await harness.run_worker()
    second = await outbound_row(harness, again.id)
    assert (second.status, second.error_code) == ("failed", "already_replied")
    assert len(harness.graph.calls) == 1


async def test_a_text_needing_two_messages_is_not_sent_as_a_private_reply(
    harness: Harness,
) -> None:
    account_id = await instagram(harness)
    long_text = ("Lovely serum, here is everything you need to know. " * 25) + "Code LENA15"
    queued = await queue_comment(harness, account_id, "1790-long", text=long_text)
    assert len((await outbound_row(harness, queued.outbound_id)).parts) == 2

    await harness.run_worker()

    outbound = await outbound_row(harness, queued.outbound_id)
    assert (outbound.status, outbound.error_code) == ("failed", "too_long_for_private_reply")
    assert harness.graph.calls == []
    assert (await comment_row(harness, queued.comment_reply_id)).public_reply_status == "skipped"


async def test_a_worker_death_during_the_private_reply_never_sends_it_again(
    harness: Harness,
) -> None:
    account_id = await instagram(harness)
    queued = await queue_comment(harness, account_id, "1790-timeout")
    harness.graph.timeout()  # the request went out; did Meta take it?

    with time_machine.travel(utc_now(), tick=True) as traveller:
        await harness.run_worker()
        traveller.shift(timedelta(minutes=2))
        await harness.run_worker()

    outbound = await outbound_row(harness, queued.outbound_id)
    assert (outbound.status, outbound.error_code) == ("failed", "outcome_unknown")
    assert len(harness.graph.calls) == 1
    assert harness.graph.comment_replies == []
    # Not skipped: an echo may still prove the DM arrived (next test).
    assert (await comment_row(harness, queued.comment_reply_id)).public_reply_status == "waiting"


async def test_the_echo_of_an_uncertain_private_reply_confirms_it_and_posts_the_public_reply(
    harness: Harness,
) -> None:
    account_id = await instagram(harness)
    queued = await queue_comment(harness, account_id, "1790-echo")
    harness.graph.timeout()
    with time_machine.travel(utc_now(), tick=True) as traveller:
        await harness.run_worker()
        traveller.shift(timedelta(minutes=2))
        await harness.run_worker()
        assert (await outbound_row(harness, queued.outbound_id)).error_code == "outcome_unknown"
        # Meta did deliver it: the echo carries our metadata.
        echo = echo_event(
            IG_ID,
            f"IGSID-{queued.comment_id}",
            TEXT,
            metadata=f"{OUR_METADATA_PREFIX}{queued.outbound_id}",
        )
        await harness.post_webhook(echo)
        await harness.run_worker()

    assert (await outbound_row(harness, queued.outbound_id)).status == "sent"
    assert [r.comment_id for r in harness.graph.comment_replies] == ["1790-echo"]


# --- Meta's hourly cap ----------------------------------------------------------------------


async def _waiting_sends(harness: Harness) -> list[tuple[int, Any]]:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        rows = (
            await session.execute(
                select(Job.payload, Job.run_at)
                .where(Job.kind == JobKind.SEND_REPLY, Job.status == "queued")
                .order_by(Job.run_at)
            )
        ).all()
    return [(int(payload["outbound_id"]), run_at) for payload, run_at in rows]


async def test_the_cap_postpones_the_rest_in_order_until_the_oldest_is_an_hour_old(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(private_reply, "PRIVATE_REPLIES_PER_HOUR", 2)
    account_id = await instagram(harness)
    start = utc_now()
    with time_machine.travel(start, tick=False):
        await queue_comment(harness, account_id, "1790-cap-0")
        await queue_comment(harness, account_id, "1790-cap-1")
        await harness.run_worker()
        third = await queue_comment(harness, account_id, "1790-cap-2")
        fourth = await queue_comment(harness, account_id, "1790-cap-3")
        await harness.run_worker()
        # The first two go out side by side (one claim, two commenters): in either order.
        sent = [s.comment_id for s in harness.graph.sent]
        assert len(sent) == 2
        assert set(sent) == {"1790-cap-0", "1790-cap-1"}
        waiting = await _waiting_sends(harness)
        # The first waits until the oldest sent is an hour old, the next just after it.
        assert [outbound_id for outbound_id, _ in waiting] == [
            third.outbound_id,
            fourth.outbound_id,
        ]
        hour = start + timedelta(hours=1)
        assert hour <= waiting[0][1] < waiting[1][1] < hour + timedelta(seconds=5)
    with time_machine.travel(start + timedelta(minutes=59), tick=False):
        # Woken early, it still waits.
        async with unit_of_work(harness.runtime.sessionmaker) as session:
            account = await session.get(Account, account_id)
            outbound = await session.get(OutboundMessage, third.outbound_id)
            assert account is not None
            assert outbound is not None
            with pytest.raises(Postpone, match="Meta's cap"):
                await private_reply.take_cap_slot(session, outbound)
    with time_machine.travel(waiting[0][1] + timedelta(milliseconds=100), tick=False):
        await harness.run_worker()
        assert [s.comment_id for s in harness.graph.sent][2:] == ["1790-cap-2"]
    with time_machine.travel(waiting[1][1] + timedelta(milliseconds=100), tick=False):
        await harness.run_worker()
    assert [s.comment_id for s in harness.graph.sent][2:] == ["1790-cap-2", "1790-cap-3"]
    assert (await outbound_row(harness, fourth.outbound_id)).status == "sent"


async def test_dms_are_not_held_back_by_the_private_reply_cap(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(private_reply, "PRIVATE_REPLIES_PER_HOUR", 1)
    account_id = await instagram(harness)
    await queue_comment(harness, account_id, "1790-a")
    await harness.run_worker()
    second = await queue_comment(harness, account_id, "1790-b")
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        account = await session.get(Account, account_id)
        assert account is not None
        contact = await create_contact(session, account, external_id="IGSID-dm")
        conversation = await create_conversation(
            session, account, contact, last_inbound_at=utc_now()
        )
        dm = await queue_reply(
            session,
            harness.runtime.settings,
            account=account,
            conversation=conversation,
            text="A plain DM",
        )

    await harness.run_worker()

    assert (await outbound_row(harness, second.outbound_id)).status == "queued"
    assert (await outbound_row(harness, dm.id)).status == "sent"
    assert [s.recipient_id for s in harness.graph.sent][-1] == "IGSID-dm"


# --- a private reply that may still go keeps its public reply waiting -----------------------


def test_every_requeued_failure_keeps_the_public_reply_waiting() -> None:
    assert set(REQUEUE_ERROR_CODES) <= private_reply.MAY_STILL_GO


async def test_after_a_reconnect_the_private_reply_and_then_the_public_reply_go(
    harness: Harness,
) -> None:
    account_id = await instagram(harness)
    queued = await queue_comment(harness, account_id, "1790-reconnect")
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        account = await session.get(Account, account_id)
        assert account is not None
        account.status = "needs_reconnect"

    await harness.run_worker()

    outbound = await outbound_row(harness, queued.outbound_id)
    assert (outbound.status, outbound.error_code) == ("failed", "account_needs_reconnect")
    assert (await comment_row(harness, queued.comment_reply_id)).public_reply_status == "waiting"
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        account = await session.get(Account, account_id)
        assert account is not None
        account.status = "active"  # what a reconnect does, then it requeues what failed
        requeued = await requeue_failed_sends(
            session, account_id=account_id, settings=harness.runtime.settings
        )
        assert requeued == 1

    await harness.run_worker()

    assert [s.comment_id for s in harness.graph.sent] == ["1790-reconnect"]
    assert [r.comment_id for r in harness.graph.comment_replies] == ["1790-reconnect"]
    assert (await comment_row(harness, queued.comment_reply_id)).public_reply_status == "posted"


async def test_two_jobs_for_one_private_reply_at_once_send_it_once(harness: Harness) -> None:
    account_id = await instagram(harness)
    queued = await queue_comment(harness, account_id, "1790-together")
    await _send_again(harness, queued.outbound_id)  # claimed in the same round

    await harness.run_worker()
    await harness.run_worker()

    assert [s.comment_id for s in harness.graph.sent] == ["1790-together"]
    assert (await outbound_row(harness, queued.outbound_id)).status == "sent"
    assert [r.comment_id for r in harness.graph.comment_replies] == ["1790-together"]
