"""Conversation pages over HTTP: the list and search, every kind of entry readable, who
sent which reply, pause/resume, a reply by hand through the outbox, access and CSRF."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from app.core.clock import utc_now
from app.core.db import unit_of_work
from app.models import (
    Account,
    AuditEntry,
    Conversation,
    Draft,
    DraftStatus,
    Message,
    OutboundMessage,
)
from tests.accounts.conftest import sign_in
from tests.harness import Harness
from tests.ui.desk import PASSWORD, Seeded, seed_account, seed_draft, seed_moderator
from tests.ui.test_queue_pages import HX, csrf_token

EVENTS = [
    {"mid": "m_att", "kind": "attachment", "text": None, "payload": {
        "attachments": [{"type": "image", "url": "https://cdn.example/a.jpg", "title": None,
                         "payload": {}},
                        {"type": "file", "url": "javascript:alert(1)", "title": "evil",
                         "payload": {}}]}},
    {"mid": "m_story", "kind": "text", "text": "love this look!", "payload": {
        "reply_to_story_id": "st_1", "reply_to_story_url": "https://cdn.example/story.mp4"}},
    {"mid": "reaction:1", "kind": "reaction", "text": None, "payload": {
        "reaction": "love", "reaction_action": "react", "reply_to_mid": "m_story"}},
    {"mid": "m_edit", "kind": "text", "text": "new words", "payload": {
        "previous_texts": ["old words"]}, "edited_at": utc_now() - timedelta(hours=3)},
    {"mid": "m_gone", "kind": "deleted", "text": None, "payload": {},
     "deleted_at": utc_now() - timedelta(hours=3)},
    {"mid": "m_btn", "kind": "postback", "text": "Get started", "payload": {
        "postback_payload": "GET_STARTED"}},
    {"mid": "m_new", "kind": "unknown", "text": None, "payload": {"raw": {"x": 1}}},
]  # fmt: skip


async def _seed(harness: Harness, **draft: Any) -> Seeded:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        account = await seed_account(session, harness.runtime.cipher)
        return await seed_draft(session, account, **draft)


async def _auto_reply(harness: Harness, seeded: Seeded, text: str) -> None:
    """A reply the bot sent on its own, as the send job records it."""
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        draft = Draft(
            account_id=seeded.account_id,
            conversation_id=seeded.conversation_id,
            status="sent",
            decision="auto",
            reasons=[],
            text=text,
            intent="greeting",
            language="en",
            confidence=0.95,
            product_ids=[],
            drafter="offline",
        )
        session.add(draft)
        await session.flush()
        outbound = OutboundMessage(
            account_id=seeded.account_id,
            conversation_id=seeded.conversation_id,
            draft_id=draft.id,
            idempotency_key=f"draft:{draft.id}",
            channel="graph",
            status="sent",
            parts=[text],
            external_ids=["m_auto"],
        )
        session.add(outbound)
        await session.flush()
        session.add(
            Message(
                account_id=seeded.account_id,
                conversation_id=seeded.conversation_id,
                mid="m_auto",
                direction="out",
                author="bot",
                kind="text",
                text=text,
                payload={},
                sent_at=utc_now() - timedelta(hours=5),
                outbound_id=outbound.id,
            )
        )


async def test_every_kind_of_entry_is_readable_and_follower_text_escaped(
    harness: Harness,
) -> None:
    seeded = await _seed(
        harness,
        follower_text="<script>alert('x')</script>",
        extra_messages=EVENTS,
    )
    await _auto_reply(harness, seeded, "Hello from the bot")
    await sign_in(harness)
    page = await harness.client.get(f"/conversations/{seeded.conversation_id}")
    assert page.status_code == 200, page.text
    html = page.text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "<script>alert" not in html
    assert "📎 image" in html
    assert 'href="https://cdn.example/a.jpg"' in html
    assert "javascript:alert" not in html  # a forged link is shown as text, never linked
    assert "Replied to a story" in html
    assert "love this look!" in html
    assert "Reacted love to a message" in html
    assert "new words" in html
    assert "<s>old words</s>" in html
    assert "Unsent by the follower" in html
    assert "Tapped a button" in html
    assert "GET_STARTED" in html
    assert "cannot show yet" in html
    assert "Sent automatically" in html
    assert "Hello from the bot" in html
    assert "A draft waits in the queue" in html
    assert "Automation on" in html


async def test_who_approved_which_reply_is_shown(harness: Harness) -> None:
    seeded = await _seed(harness)
    await sign_in(harness)
    token = csrf_token((await harness.client.get("/queue")).text)
    await harness.client.post(
        f"/queue/{seeded.draft_id}/approve",
        data={"text": "Edited by a human"},
        headers={**HX, "X-CSRF-Token": token},
    )
    await harness.run_worker()
    html = (await harness.client.get(f"/conversations/{seeded.conversation_id}")).text
    assert "Approved by admin@test.example (edited)" in html
    assert "Edited by a human" in html
    assert "draft: approved edited" in html  # the history table, from the audit log


async def test_list_search_and_account_filter(harness: Harness) -> None:
    mia = await _seed(harness, follower="Mia Müller", follower_text="hello there")
    await _seed(harness, follower="Tom 100%_fan")
    await sign_in(harness)
    listing = (await harness.client.get("/conversations")).text
    assert "Mia Müller" in listing
    assert "Tom 100%_fan" in listing
    assert "hello there" in listing
    assert "1 waiting" in listing
    found = (await harness.client.get("/conversations", params={"q": "mia"})).text
    assert "Mia Müller" in found
    assert "Tom 100%" not in found
    literal = (await harness.client.get("/conversations", params={"q": "0%_"})).text
    assert "Tom 100%_fan" in literal
    assert "Mia Müller" not in literal
    by_account = await harness.client.get(f"/conversations?account_id={mia.account_id}")
    assert "Mia Müller" in by_account.text
    assert "Tom 100%" not in by_account.text


async def test_pause_and_resume_need_csrf_and_are_audited(harness: Harness) -> None:
    seeded = await _seed(harness)
    await sign_in(harness)
    path = f"/conversations/{seeded.conversation_id}"
    token = csrf_token((await harness.client.get(path)).text)
    refused = await harness.client.post(f"{path}/pause", headers={**HX, "X-CSRF-Token": "no"})
    assert refused.status_code == 403
    paused = await harness.client.post(f"{path}/pause", headers={**HX, "X-CSRF-Token": token})
    assert "Automation paused" in paused.text
    assert "Resume automation" in paused.text
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        conversation = await session.get(Conversation, seeded.conversation_id)
        assert conversation is not None
        assert conversation.is_paused
    resumed = await harness.client.post(f"{path}/resume", data={"csrf_token": token})
    assert resumed.status_code == 303
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        conversation = await session.get(Conversation, seeded.conversation_id)
        assert conversation is not None
        assert not conversation.is_paused
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert {"conversation.paused", "conversation.resumed"} <= set(actions)


async def test_a_reply_by_hand_goes_through_the_outbox_and_the_audit_log(
    harness: Harness,
) -> None:
    seeded = await _seed(harness)
    await sign_in(harness)
    path = f"/conversations/{seeded.conversation_id}"
    token = csrf_token((await harness.client.get(path)).text)
    empty = await harness.client.post(
        f"{path}/reply", data={"text": "   "}, headers={**HX, "X-CSRF-Token": token}
    )
    assert "write a reply first" in empty.text
    no_csrf = await harness.client.post(f"{path}/reply", data={"text": "hi"}, headers=HX)
    assert no_csrf.status_code == 403
    sent = await harness.client.post(
        f"{path}/reply", data={"text": "Written by hand <3"}, headers={**HX, "X-CSRF-Token": token}
    )
    assert "Your reply is queued" in sent.text
    await harness.run_worker()
    assert [(s.text, s.recipient_id) for s in harness.graph.sent] == [
        ("Written by hand <3", seeded.follower_id)
    ]
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        outbound = (await session.scalars(select(OutboundMessage))).one()
        assert outbound.sent_by_user_id is not None
        entry = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "conversation.manual_reply")
            )
        ).one()
        assert entry.entity_id == outbound.id
        # The draft that was waiting would have been a second reply: it is withdrawn.
        [draft] = (
            await session.scalars(
                select(Draft).where(Draft.conversation_id == seeded.conversation_id)
            )
        ).all()
        assert draft.status == "superseded"
        assert draft.reject_reason == "answered by hand by admin@test.example"
    html = (await harness.client.get(path)).text
    assert "Written by admin@test.example" in html
    assert "Written by hand &lt;3" in html


async def test_a_reply_by_hand_outside_the_window_is_not_sent(harness: Harness) -> None:
    seeded = await _seed(harness, inbound_age=timedelta(hours=30))
    await sign_in(harness)
    path = f"/conversations/{seeded.conversation_id}"
    page = (await harness.client.get(path)).text
    assert "24-hour window closed" in page
    await harness.client.post(
        f"{path}/reply", data={"text": "too late"}, headers={**HX, "X-CSRF-Token": csrf_token(page)}
    )
    await harness.run_worker()
    assert harness.graph.sent == []
    html = (await harness.client.get(path)).text
    assert "Replies not delivered" in html
    assert "expired" in html


async def test_a_message_no_reply_covers_is_marked_until_a_person_answers(
    harness: Harness,
) -> None:
    seeded = await _seed(harness, inbound_age=timedelta(hours=30))
    await sign_in(harness)
    path = f"/conversations/{seeded.conversation_id}"
    assert ">unanswered</span>" not in (await harness.client.get(path)).text  # a draft waits
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        draft = await session.get(Draft, seeded.draft_id)
        assert draft is not None
        draft.status = DraftStatus.SUPERSEDED  # as if withdrawn: it no longer answers the message
    page = (await harness.client.get(path)).text
    assert page.count(">unanswered</span>") == 1
    await harness.client.post(
        f"{path}/reply",
        data={"text": "late, sorry"},
        headers={**HX, "X-CSRF-Token": csrf_token(page)},
    )
    assert ">unanswered</span>" not in (await harness.client.get(path)).text


async def test_a_moderator_gets_404_for_another_accounts_conversation(harness: Harness) -> None:
    mine = await _seed(harness, follower="Mine Follower")
    theirs = await _seed(harness, follower="Their Follower")
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        await seed_moderator(session, "mo@test.example", [mine.account_id])
    await sign_in(harness, "mo@test.example", PASSWORD)
    listing = (await harness.client.get("/conversations")).text
    assert "Mine Follower" in listing
    assert "Their Follower" not in listing
    other = f"/conversations/{theirs.conversation_id}"
    page = await harness.client.get(other)
    assert page.status_code == 404
    assert "Their Follower" not in page.text
    assert (await harness.client.get(f"{other}/thread")).status_code == 404
    assert (
        await harness.client.get(f"/conversations?account_id={theirs.account_id}")
    ).status_code == 404
    token = csrf_token((await harness.client.get(f"/conversations/{mine.conversation_id}")).text)
    for action, data in (("pause", {}), ("resume", {}), ("reply", {"text": "hi"})):
        response = await harness.client.post(
            f"{other}/{action}", data=data, headers={**HX, "X-CSRF-Token": token}
        )
        assert response.status_code == 404, action
    await harness.run_worker()
    assert harness.graph.sent == []
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        conversation = await session.get(Conversation, theirs.conversation_id)
        assert conversation is not None
        assert not conversation.is_paused
        assert (await session.scalars(select(Account))).all()


async def test_the_list_escapes_names_and_previews_and_a_long_reply_is_refused(
    harness: Harness,
) -> None:
    seeded = await _seed(
        harness, follower="<b onmouseover=x>Eve</b>", follower_text="<img src=x onerror=y>"
    )
    await sign_in(harness)
    listing = (await harness.client.get("/conversations")).text
    assert "<b onmouseover" not in listing
    assert "&lt;b onmouseover=x&gt;Eve&lt;/b&gt;" in listing
    assert "<img src=x" not in listing
    path = f"/conversations/{seeded.conversation_id}"
    token = csrf_token((await harness.client.get(path)).text)
    long = "word " * 1300
    refused = await harness.client.post(
        f"{path}/reply", data={"text": long}, headers={**HX, "X-CSRF-Token": token}
    )
    assert "reply too long for instagram" in refused.text
    assert long.strip() in refused.text  # what was typed is kept
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        assert (await session.scalars(select(OutboundMessage))).all() == []
