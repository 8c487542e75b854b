"""The public reply under a comment: posted at most once after its private reply went out,
retried on Meta's transient errors, failed with the reason otherwise, skipped when no DM
went, and in sandbox mode shown in the outbox instead of posted. Real worker, both
databases, Meta's Graph API faked at the HTTP boundary."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from app.comments.public import OUTCOME_UNKNOWN
from app.core.db import unit_of_work
from app.models import AuditEntry, CommentReply, Job, Message
from app.worker.kinds import JobKind
from app.worker.queue import enqueue
from tests.harness import Harness, make_settings, running_app
from tests.outbox.comment_seed import (
    PUBLIC,
    comment_row,
    instagram,
    outbound_row,
    queue_comment,
)
from tests.users.web import sign_in


async def _audit(harness: Harness) -> list[tuple[str, dict[str, object]]]:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        rows = await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action.startswith("comment.public_reply"))
            .order_by(AuditEntry.id)
        )
        return [(r.action, r.details) for r in rows]


async def _post_again(harness: Harness, comment_reply_id: int) -> None:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        await enqueue(session, JobKind.PUBLIC_REPLY, {"comment_reply_id": comment_reply_id})


async def test_a_transient_error_is_retried_and_the_reply_posted_once(harness: Harness) -> None:
    account_id = await instagram(harness)
    queued = await queue_comment(harness, account_id, "1790-retry")
    harness.graph.fail_comment_reply_next(status=500, code=2, is_transient=True)

    await harness.run_worker()
    await _post_again(harness, queued.comment_reply_id)  # a later run finds it done
    await harness.run_worker()

    assert [c.status for c in harness.graph.comment_reply_calls] == [500, 200]
    [posted] = harness.graph.comment_replies
    row = await comment_row(harness, queued.comment_reply_id)
    assert (row.public_reply_status, row.public_reply_id, row.public_reply_error) == (
        "posted",
        posted.reply_id,
        None,
    )
    [(action, details)] = await _audit(harness)
    assert action == "comment.public_reply_posted"
    assert details["public_reply_id"] == posted.reply_id


async def test_a_deleted_comment_fails_with_the_reason_and_no_retry(harness: Harness) -> None:
    account_id = await instagram(harness)
    queued = await queue_comment(harness, account_id, "1790-gone")
    harness.graph.fail_comment_reply_next(
        code=100,
        subcode=33,
        message="Unsupported post request. Object with ID '1790-gone' does not exist",
    )

    await harness.run_worker()
    await harness.run_worker()

    assert len(harness.graph.comment_reply_calls) == 1
    row = await comment_row(harness, queued.comment_reply_id)
    assert row.public_reply_status == "failed"
    assert "does not exist" in (row.public_reply_error or "")
    assert [a for a, _ in await _audit(harness)] == ["comment.public_reply_failed"]
    # The private reply itself went: only the public one failed.
    assert (await outbound_row(harness, queued.outbound_id)).status == "sent"


async def test_a_timeout_during_the_call_is_never_posted_again(harness: Harness) -> None:
    account_id = await instagram(harness)
    queued = await queue_comment(harness, account_id, "1790-slow")
    harness.graph.comment_reply_timeout()

    await harness.run_worker()
    await _post_again(harness, queued.comment_reply_id)
    await harness.run_worker()

    assert len(harness.graph.comment_reply_calls) == 1
    assert harness.graph.comment_replies == []
    row = await comment_row(harness, queued.comment_reply_id)
    assert row.public_reply_status == "failed"
    assert (row.public_reply_error or "").startswith("outcome unknown")


async def test_a_worker_that_died_mid_call_leaves_it_failed_not_posted_twice(
    harness: Harness,
) -> None:
    account_id = await instagram(harness)
    queued = await queue_comment(harness, account_id, "1790-died")
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        # A worker took the public reply (`posting`, committed) and died during the call;
        # its job, its lease run out, is claimed again.
        await session.execute(
            update(CommentReply)
            .where(CommentReply.id == queued.comment_reply_id)
            .values(public_reply_status="posting")
        )
    await _post_again(harness, queued.comment_reply_id)

    await harness.run_worker()
    await _post_again(harness, queued.comment_reply_id)
    await harness.run_worker()

    assert len(harness.graph.sent) == 1
    assert harness.graph.comment_reply_calls == []
    row = await comment_row(harness, queued.comment_reply_id)
    assert (row.public_reply_status, row.public_reply_error) == ("failed", OUTCOME_UNKNOWN)


async def test_nothing_is_queued_without_a_public_reply_text(harness: Harness) -> None:
    account_id = await instagram(harness)
    queued = await queue_comment(harness, account_id, "1790-quiet", public=None)

    await harness.run_worker()

    assert len(harness.graph.sent) == 1
    assert harness.graph.comment_reply_calls == []
    assert (await comment_row(harness, queued.comment_reply_id)).public_reply_status is None
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        kinds = (await session.scalars(select(Job.kind))).all()
    assert JobKind.PUBLIC_REPLY not in kinds


@pytest.mark.parametrize("how", ["reject", "cancel_pending", "cancel_queued"])
async def test_no_dm_means_no_public_reply(harness: Harness, how: str) -> None:
    account_id = await instagram(harness)
    queued = await queue_comment(
        harness,
        account_id,
        f"1790-{how}",
        draft_status="approved" if how == "cancel_queued" else "pending",
    )
    path = "reject" if how == "reject" else "cancel"
    response = await harness.api("POST", f"/api/v1/drafts/{queued.draft_id}/{path}", json={})
    assert response.status_code == 200, response.text

    await harness.run_worker()

    assert harness.graph.calls == []
    assert harness.graph.comment_reply_calls == []
    row = await comment_row(harness, queued.comment_reply_id)
    assert row.public_reply_status == "skipped"
    assert [a for a, _ in await _audit(harness)] == ["comment.public_reply_skipped"]


# --- sandbox ------------------------------------------------------------------------------


@pytest.fixture
async def sandbox(database_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    settings = make_settings(
        database_url, str(tmp_path), META_APP_SECRET=None, META_APP_ID=None, META_VERIFY_TOKEN=None
    )
    assert settings.sandbox
    async with running_app(settings) as harness:
        yield harness


async def test_in_sandbox_mode_both_replies_show_in_the_outbox(sandbox: Harness) -> None:
    account = await sandbox.create_account(external_id="sandbox-ig")
    queued = await queue_comment(sandbox, int(account["id"]), "sandbox-comment-1")

    await sandbox.run_worker()

    assert sandbox.graph.calls == []
    assert sandbox.graph.comment_reply_calls == []
    outbox = (await sandbox.api("GET", f"/api/v1/accounts/{account['id']}/outbox")).json()
    [private] = outbox
    assert (private["channel"], private["status"], private["comment_id"]) == (
        "sandbox",
        "sent",
        "sandbox-comment-1",
    )
    public = private["public_reply"]
    assert (public["text"], public["status"]) == (PUBLIC, "posted")
    assert public["id"].startswith("sandbox-")
    row = await comment_row(sandbox, queued.comment_reply_id)
    assert row.public_reply_id == public["id"]
    async with unit_of_work(sandbox.runtime.sessionmaker) as session:
        # Like a DM's, the sandbox reply is in the commenter's thread.
        [message] = (await session.scalars(select(Message).where(Message.direction == "out"))).all()
        assert (message.conversation_id, message.outbound_id) == (
            private["conversation_id"],
            private["id"],
        )

    await sign_in(sandbox.client)
    page = await sandbox.client.get(f"/accounts/{account['id']}/outbox")
    assert page.status_code == 200
    assert "private reply to a comment" in page.text
    assert "Public reply under the comment" in page.text
    assert PUBLIC in page.text


async def test_a_private_reply_without_public_text_shows_none(sandbox: Harness) -> None:
    account = await sandbox.create_account(external_id="sandbox-ig")
    await queue_comment(sandbox, int(account["id"]), "sandbox-comment-2", public=None)
    await sandbox.run_worker()
    [private] = (await sandbox.api("GET", f"/api/v1/accounts/{account['id']}/outbox")).json()
    assert (private["comment_id"], private["public_reply"]) == ("sandbox-comment-2", None)


async def test_a_missing_permission_fails_it_and_asks_for_a_reconnect(harness: Harness) -> None:
    account_id = await instagram(harness)
    queued = await queue_comment(harness, account_id, "1790-perm")
    harness.graph.fail_comment_reply_next(
        status=403, code=200, message="(#200) Requires instagram_business_manage_comments"
    )

    await harness.run_worker()

    row = await comment_row(harness, queued.comment_reply_id)
    assert row.public_reply_status == "failed"
    account = (await harness.api("GET", f"/api/v1/accounts/{account_id}")).json()
    assert account["status"] == "active"  # DMs go on
    assert account["comments_problem"].startswith("comment triggers need reconnecting: ")
    assert "instagram_business_manage_comments" in account["comments_problem"]


async def test_an_instagram_account_through_a_page_uses_the_page(harness: Harness) -> None:
    account = await harness.create_account(
        external_id="17841400000000009",
        access_token="EAAGpage-of-ig",
        graph_host="facebook",
        page_id="104870000000009",
    )
    queued = await queue_comment(harness, int(account["id"]), "1790-via-page")

    await harness.run_worker()

    [sent] = harness.graph.sent
    assert (sent.host, sent.sender_id, sent.access_token) == (
        "facebook",
        "104870000000009",
        "EAAGpage-of-ig",
    )
    [public] = harness.graph.comment_replies
    assert (public.host, public.edge, public.comment_id) == ("facebook", "replies", "1790-via-page")
    assert (await comment_row(harness, queued.comment_reply_id)).public_reply_status == "posted"
