"""From a comment webhook to the private reply's outbound row, through the real worker,
on both databases; Meta faked at the HTTP boundary."""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from app.core.clock import utc_now
from app.core.db import unit_of_work
from app.models import CommentReply, Contact, Conversation, Draft, Message, OutboundMessage
from tests.accounts.conftest import sign_in
from tests.fakes.llm import FakeLLM
from tests.harness import LLM_URL, Harness, make_settings, running_app, text_event

IG_ID = "17841400000000001"
PAGE_ID = "104871234567890"
POST = "17990001"
VARIANTS = ["Sent you a DM 💌", "Check your inbox ✨"]
_ids = itertools.count(1)


def ig_comment(
    text: str,
    *,
    follower: str = "IGSID-1",
    author: dict[str, str] | None = None,
    comment_id: str | None = None,
    media_id: str = POST,
    **value: Any,
) -> dict[str, Any]:
    """`author` is Meta's whole `from` object, when `follower` alone does not say enough."""
    body: dict[str, Any] = {
        "id": comment_id or f"1780{next(_ids)}",
        "from": author or {"id": follower, "username": "jane"},
        "text": text,
        "media": {"id": media_id, "media_product_type": "FEED"},
        **value,
    }
    change = {"field": "comments", "value": body}
    return {
        "object": "instagram",
        "entry": [{"id": IG_ID, "time": int(time.time()), "changes": [change]}],
    }


def fb_comment(
    text: str, *, follower: str = "PSID-1", parent_id: str | None = None
) -> dict[str, Any]:
    post_id = f"{PAGE_ID}_555"
    value = {
        "item": "comment",
        "verb": "add",
        "comment_id": f"555_{next(_ids)}",
        "post_id": post_id,
        "parent_id": parent_id or post_id,
        "from": {"id": follower, "name": "Jane Doe"},
        "message": text,
        "created_time": int(time.time()),
    }
    change = {"field": "feed", "value": value}
    return {
        "object": "page",
        "entry": [{"id": PAGE_ID, "time": int(time.time()), "changes": [change]}],
    }


async def _trigger(harness: Harness, account_id: int, product_id: int | None, **body: Any) -> int:
    payload = {
        "keywords": ["SERUM"],
        "product_id": product_id,
        "public_reply": "\n".join(VARIANTS),
        **body,
    }
    response = await harness.api(
        "POST", f"/api/v1/accounts/{account_id}/comment-triggers", json=payload
    )
    assert response.status_code == 201, response.text
    trigger_id: int = response.json()["id"]
    return trigger_id


async def _account(
    harness: Harness, *, mode: str = "autopilot", messenger: bool = False
) -> dict[str, Any]:
    if messenger:
        account = await harness.create_account(
            platform="messenger",
            external_id=PAGE_ID,
            page_id=PAGE_ID,
            graph_host="facebook",
            access_token="EAApage-token",
            name="Lena Loves (Page)",
        )
    else:
        account = await harness.create_account(external_id=IG_ID)
    await harness.set_policy(account["id"], mode=mode)
    product_id = (await harness.add_serum(account["id"]))["products"][0]["id"]
    account["trigger_id"] = await _trigger(harness, account["id"], product_id)
    account["product_id"] = product_id
    return account


async def _rows(harness: Harness, model: Any) -> list[Any]:
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        return list((await session.scalars(select(model).order_by(model.id))).all())


async def _comment_ids(harness: Harness) -> list[str]:
    return [r.comment_id for r in await _rows(harness, CommentReply)]


async def _post(harness: Harness, payload: dict[str, Any]) -> None:
    response = await harness.post_webhook(payload)
    assert response.status_code == 200, response.text
    await harness.run_worker()


@pytest.mark.parametrize("messenger", [False, True], ids=["instagram", "facebook"])
async def test_a_keyword_comment_gets_one_private_reply(harness: Harness, messenger: bool) -> None:
    await _account(harness, messenger=messenger)
    payload = fb_comment("SERUM 😍") if messenger else ig_comment("SERUM 😍")

    await _post(harness, payload)

    [reply] = await _rows(harness, CommentReply)
    [draft] = await _rows(harness, Draft)
    [outbound] = await _rows(harness, OutboundMessage)
    assert (reply.status, reply.draft_id, reply.skip_reason) == ("drafted", draft.id, None)
    assert reply.public_reply_text in VARIANTS
    assert reply.media_id == (f"{PAGE_ID}_555" if messenger else POST)
    assert (draft.kind, draft.decision, draft.intent) == ("comment", "auto", "discount_code")
    [comment] = [m for m in await _rows(harness, Message) if m.kind == "comment"]
    assert draft.reply_to_message_id == comment.id
    assert outbound.comment_id == reply.comment_id
    assert outbound.draft_id == draft.id
    text = " ".join(outbound.parts)
    assert "LENA15" in text
    # The product's link goes out as the conversation's tracked link (app/links).
    assert "https://glowlab.example/serum" not in text
    assert re.search(r"http://127\.0\.0\.1:8000/l/[\w-]{24}", text)
    # Meta got exactly one private reply to the comment, then the public reply under it.
    [sent] = harness.graph.sent
    assert (sent.comment_id, sent.text) == (reply.comment_id, text)
    [public] = harness.graph.comment_replies
    assert (public.comment_id, public.message) == (reply.comment_id, reply.public_reply_text)
    assert public.edge == ("comments" if messenger else "replies")
    assert (reply.public_reply_status, outbound.status) == ("posted", "sent")
    # A comment does not open the 24-hour window; only the commenter's answer does.
    [conversation] = await _rows(harness, Conversation)
    assert conversation.last_inbound_at is None

    # The same webhook again, and the same comment in another body: nothing more.
    await _post(harness, payload)
    again = {**payload, "entry": [{**payload["entry"][0], "time": payload["entry"][0]["time"] + 1}]}
    await _post(harness, again)
    assert len(await _rows(harness, CommentReply)) == 1
    assert len(await _rows(harness, Draft)) == 1
    assert len(await _rows(harness, OutboundMessage)) == 1
    assert (len(harness.graph.sent), len(harness.graph.comment_replies)) == (1, 1)


@pytest.mark.parametrize(
    "payload",
    [
        ig_comment("SERUM", parent_id="177000"),
        ig_comment("SERUM", follower=IG_ID),
        ig_comment("SERUM", author={"id": "555", "username": "me", "self_ig_scoped_id": "9"}),
        ig_comment("love this look 😍"),
        ig_comment("SERUM", media_id="other-post-of-a-post-trigger"),
    ],
    ids=["reply-to-a-comment", "own-comment", "own-scoped-id", "no-keyword", "other-post"],
)
async def test_comments_that_get_no_private_reply(
    harness: Harness, payload: dict[str, Any]
) -> None:
    account = await _account(harness)
    # The "other post" case: the only trigger is for one post.
    await harness.api(
        "PUT",
        f"/api/v1/comment-triggers/{account['trigger_id']}",
        json={"keywords": ["SERUM"], "product_id": account["product_id"], "media_id": POST},
    )

    await _post(harness, payload)

    assert await _rows(harness, CommentReply) == []
    assert await _rows(harness, Draft) == []
    assert await _rows(harness, OutboundMessage) == []
    assert [m.kind for m in await _rows(harness, Message)] == ["comment"]  # still recorded


async def test_a_facebook_reply_to_a_comment_gets_nothing(harness: Harness) -> None:
    await _account(harness, messenger=True)
    await _post(harness, fb_comment("SERUM", parent_id="555_1"))
    assert await _rows(harness, CommentReply) == []
    assert await _rows(harness, Draft) == []


@pytest.mark.parametrize("messenger", [False, True], ids=["instagram", "facebook"])
async def test_copilot_queues_a_comment_draft_and_approval_replies_to_the_comment(
    harness: Harness, messenger: bool
) -> None:
    await _account(harness, mode="copilot", messenger=messenger)
    await _post(harness, fb_comment("Serum please!") if messenger else ig_comment("Serum please!"))

    queue = (await harness.api("GET", "/api/v1/drafts", params={"status": "pending"})).json()
    assert [d["kind"] for d in queue] == ["comment"]
    assert "mode is copilot" in queue[0]["reasons"]
    assert await _rows(harness, OutboundMessage) == []

    approved = await harness.api("POST", f"/api/v1/drafts/{queue[0]['id']}/approve", json={})
    assert approved.status_code == 200, approved.text
    [reply] = await _rows(harness, CommentReply)
    [outbound] = await _rows(harness, OutboundMessage)
    assert outbound.comment_id == reply.comment_id
    assert "LENA15" in " ".join(outbound.parts)


async def test_rejecting_a_comment_draft_skips_the_public_reply(harness: Harness) -> None:
    await _account(harness, mode="copilot")
    await _post(harness, ig_comment("SERUM"))
    [draft] = await _rows(harness, Draft)

    rejected = await harness.api("POST", f"/api/v1/drafts/{draft.id}/reject", json={"reason": "no"})

    assert rejected.status_code == 200, rejected.text
    [reply] = await _rows(harness, CommentReply)
    assert reply.public_reply_status == "skipped"
    assert await _rows(harness, OutboundMessage) == []


async def test_cancelling_a_held_private_reply_skips_the_public_reply(harness: Harness) -> None:
    account = await _account(harness)
    await harness.set_policy(account["id"], hold_auto_seconds=300)
    await _post(harness, ig_comment("SERUM"))
    [draft] = await _rows(harness, Draft)
    assert (draft.decision, draft.status) == ("auto", "approved")

    cancelled = await harness.api("POST", f"/api/v1/drafts/{draft.id}/cancel")

    assert cancelled.status_code == 200, cancelled.text
    [reply] = await _rows(harness, CommentReply)
    [outbound] = await _rows(harness, OutboundMessage)
    assert (reply.public_reply_status, outbound.status) == ("skipped", "cancelled")


@pytest.mark.parametrize(
    "text",
    [
        "SERUM but it gave me a rash",
        "SERUM is it safe during pregnancy?",
        "SERUM 😡",
        "SERUM my order never arrived",
    ],
)
async def test_anything_beside_the_keyword_goes_to_a_person(harness: Harness, text: str) -> None:
    await _account(harness)
    await _post(harness, ig_comment(text))

    [draft] = await _rows(harness, Draft)
    assert (draft.kind, draft.decision, draft.status) == ("comment", "review", "pending")
    assert await _rows(harness, OutboundMessage) == []


@pytest.mark.parametrize(
    "text",
    ["SERUM", "serum!!", "Hi! SERUM please 🙏", "#serum 😍😍", "Sérum, thank you", "SERUM bitte"],
)
async def test_the_keyword_with_harmless_words_goes_out_alone(harness: Harness, text: str) -> None:
    await _account(harness)
    await _post(harness, ig_comment(text))

    [draft] = await _rows(harness, Draft)
    assert draft.decision == "auto", draft.reasons
    # Sending it to Meta is the outbox's (the private reply's own rules); here: queued.
    [outbound] = await _rows(harness, OutboundMessage)
    assert (outbound.draft_id, outbound.comment_id) == (draft.id, (await _comment_ids(harness))[0])


async def test_an_opted_out_commenter_is_skipped(harness: Harness) -> None:
    await _account(harness)
    await _post(harness, ig_comment("hello", follower="IGSID-9"))  # no keyword: recorded
    async with unit_of_work(harness.runtime.sessionmaker) as session:
        await session.execute(update(Contact).values(opted_out_at=utc_now()))

    await _post(harness, ig_comment("SERUM", follower="IGSID-9"))

    [reply] = await _rows(harness, CommentReply)
    assert (reply.status, reply.skip_reason, reply.public_reply_text) == (
        "skipped",
        "opted_out",
        None,
    )
    assert await _rows(harness, Draft) == []


async def test_old_comments_and_accounts_that_are_off_are_skipped(harness: Harness) -> None:
    account = await _account(harness)
    old = int((utc_now() - timedelta(days=8)).timestamp() * 1000)
    await _post(harness, ig_comment("SERUM", timestamp=old))
    await harness.set_policy(account["id"], mode="off")
    await _post(harness, ig_comment("SERUM"))

    reasons = [(r.status, r.skip_reason) for r in await _rows(harness, CommentReply)]
    assert reasons == [("skipped", "too_old"), ("skipped", "mode_off")]
    assert await _rows(harness, Draft) == []


async def test_a_post_trigger_wins_and_public_replies_vary(harness: Harness) -> None:
    account = await _account(harness)
    post_trigger = await _trigger(
        harness,
        account["id"],
        account["product_id"],
        media_id=POST,
        public_reply="\n".join(VARIANTS),
    )

    for n in range(4):
        await _post(harness, ig_comment("SERUM", follower=f"IGSID-{n}"))

    replies = await _rows(harness, CommentReply)
    assert [r.trigger_id for r in replies] == [post_trigger] * 4
    texts = [r.public_reply_text for r in replies]
    assert all(a != b for a, b in itertools.pairwise(texts)), texts


async def test_without_a_product_the_comment_is_answered_like_a_message(harness: Harness) -> None:
    account = await harness.create_account(external_id=IG_ID)
    await harness.set_policy(account["id"], mode="autopilot")
    await harness.add_serum(account["id"])
    await _trigger(harness, account["id"], None, keywords=["code"])

    await _post(harness, ig_comment("code for the vitamin c serum?"))
    await _post(harness, ig_comment("CODE", follower="IGSID-2"))

    first, second = await _rows(harness, Draft)
    assert first.decision == "auto"  # the recogniser reads it
    assert second.decision == "review"  # "code" alone names no product: a person answers


async def test_dms_and_comment_drafts_do_not_replace_each_other(harness: Harness) -> None:
    await _account(harness, mode="copilot")
    await _post(harness, ig_comment("SERUM"))
    await _post(harness, text_event(IG_ID, "IGSID-1", "and what does it cost?"))

    drafts = await _rows(harness, Draft)
    assert [(d.kind, d.status) for d in drafts] == [("comment", "pending"), ("dm", "pending")]
    # The commenter's DM opened the window, the comment did not.
    [conversation] = await _rows(harness, Conversation)
    assert conversation.last_inbound_at is not None


async def test_the_queue_card_says_it_is_a_private_reply_to_a_comment(harness: Harness) -> None:
    await _account(harness, mode="copilot")
    await _post(harness, ig_comment("SERUM <b>now</b>"))
    await _post(harness, text_event(IG_ID, "IGSID-7", "code for the serum?"))
    await sign_in(harness)

    page = await harness.client.get("/queue")

    assert page.status_code == 200
    cards = page.text.split('class="card qcard"')[1:]
    comment_card, dm_card = cards
    assert f"Private reply to a comment on post {POST}" in comment_card
    assert "SERUM &lt;b&gt;now&lt;/b&gt;" in comment_card
    assert "6 d 23 h left to reply" in comment_card  # Meta's 7 days, not the 24 hours
    assert "Private reply" not in dm_card
    assert "left to reply" not in dm_card
    [conversation, _] = await _rows(harness, Conversation)
    thread = await harness.client.get(f"/conversations/{conversation.id}")
    assert "A private reply to a comment waits in the queue" in thread.text


async def test_the_card_shows_the_comment_after_a_long_thread(harness: Harness) -> None:
    await _account(harness, mode="copilot")
    await _post(harness, ig_comment("SERUM 💛"))
    [comment_draft] = await _rows(harness, Draft)
    for n in range(7):
        await _post(harness, text_event(IG_ID, "IGSID-1", f"message number {n}"))
    await sign_in(harness)

    page = await harness.client.get("/queue")

    card = page.text.split(f'id="draft-{comment_draft.id}"')[1].split("</article>")[0]
    assert "SERUM 💛" in card
    assert "Private reply to a comment" in card


@pytest.fixture
async def llm_harness(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Harness, FakeLLM]]:
    settings = make_settings(
        database_url, str(tmp_path), OPENAI_API_KEY="test-key", LLM_MODEL="m-1"
    )
    async with running_app(settings) as harness:
        yield harness, FakeLLM(harness.router, base_url=LLM_URL)


async def test_the_llm_drafts_the_private_reply_knowing_it_answers_a_comment(
    llm_harness: tuple[Harness, FakeLLM],
) -> None:
    harness, llm = llm_harness
    account = await _account(harness)
    llm.script(
        reply="Here you go: LENA15 for 15% off https://glowlab.example/serum",
        intent="discount_code",
        language="en",
        confidence=0.95,
        product_ids=[account["product_id"]],
    )

    await _post(harness, ig_comment("SERUM 😍"))

    assert llm.route.called
    prompt = "\n".join(m["content"] for m in llm.last_request["messages"])
    assert "public comment under one of Lena Loves's posts" in prompt
    assert "asks for the code and the link of the catalog product" in prompt
    [draft] = await _rows(harness, Draft)
    assert (draft.kind, draft.drafter, draft.decision) == ("comment", "llm", "auto")
    [outbound] = await _rows(harness, OutboundMessage)
    assert outbound.comment_id == (await _comment_ids(harness))[0]
    # The bot's first message to the commenter, so it says it was sent automatically.
    [part] = outbound.parts
    assert re.fullmatch(
        r"Here you go: LENA15 for 15% off http://127\.0\.0\.1:8000/l/[\w-]{24}"
        r"\n\n— sent automatically by Lena Loves' assistant",
        part,
    )


async def test_an_llm_reply_with_another_code_goes_to_a_person(
    llm_harness: tuple[Harness, FakeLLM],
) -> None:
    harness, llm = llm_harness
    account = await _account(harness)
    llm.script(
        reply="Use FAKE50 for 50% off!",
        intent="discount_code",
        language="en",
        confidence=0.99,
        product_ids=[account["product_id"]],
    )

    await _post(harness, ig_comment("SERUM"))

    [draft] = await _rows(harness, Draft)
    assert (draft.kind, draft.decision, draft.status) == ("comment", "review", "pending")
    assert await _rows(harness, OutboundMessage) == []


async def test_a_question_beside_the_keyword_is_answered_by_the_normal_rules(
    harness: Harness,
) -> None:
    await _account(harness)
    await _post(harness, ig_comment("SERUM, how much?"))

    [draft] = await _rows(harness, Draft)
    assert (draft.decision, draft.intent) == ("auto", "price"), draft.reasons
    [outbound] = await _rows(harness, OutboundMessage)
    assert "29,90" in " ".join(outbound.parts) or "29.90" in " ".join(outbound.parts)
