"""The desk in a real browser: Debian's chromium driven by Playwright against the app on
loopback (its worker running, Meta's Send API faked on loopback). Each test seeds its own
account and moderators, so the tests share one server per module.

Screenshots of the queue and a conversation go to $INBOXPILOT_SCREENSHOTS
(default artifacts/screenshots)."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Locator, Page, expect
from sqlalchemy import func, select

from app.models import Account, Draft, OutboundMessage
from tests.ui.conftest import PHONE, LiveServer, screenshots_dir
from tests.ui.desk import Seeded, seed_account, seed_draft, seed_moderator

pytestmark = pytest.mark.asyncio(loop_scope="module")

_people = itertools.count(1)
# Different questions, so drafts seeded together are not grouped as near-identical.
_QUESTIONS = (
    "Hi! Is there a code for the vitamin C serum?",
    "Does the night cream work for dry skin too?",
    "Where can I buy the serum in Austria?",
    "How long does shipping usually take?",
)


async def _desk(
    server: LiveServer, drafts: int = 1, moderators: int = 1, **draft: Any
) -> tuple[list[str], list[Seeded]]:
    """An account of its own with its moderators and pending drafts."""
    async with server.session() as session:
        account = await seed_account(session, server.cipher, name="Lena Loves")
        seeded = [
            await seed_draft(session, account, **{"follower_text": _QUESTIONS[i % 4], **draft})
            for i in range(drafts)
        ]
        emails = [f"mod{next(_people)}@desk.example" for _ in range(moderators)]
        for email in emails:
            await seed_moderator(session, email, [account.id])
    return emails, seeded


async def _status(server: LiveServer, draft_id: int) -> str:
    async with server.session() as session:
        draft = await session.get(Draft, draft_id)
        assert draft is not None
        return draft.status


async def _outbound_for(server: LiveServer, draft_id: int) -> int:
    async with server.session() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(OutboundMessage)
            .where(OutboundMessage.draft_id == draft_id)
        )
        return int(count or 0)


async def _sent_to(server: LiveServer, follower_id: str, seconds: float = 10) -> list[str]:
    deadline = asyncio.get_running_loop().time() + seconds
    while not server.sends_to(follower_id) and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    return [s["message"]["text"] for s in server.sends_to(follower_id)]


@pytest_asyncio.fixture(loop_scope="module")
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    context = await browser.new_context(viewport={"width": 1100, "height": 900})
    yield context
    await context.close()


async def _signed_in(server: LiveServer, context: BrowserContext, email: str) -> Page:
    page = await context.new_page()
    await server.sign_in(page, email)
    return page


def _card(page: Page, draft_id: int) -> Locator:
    return page.locator(f"#draft-{draft_id}")


async def test_sign_in_and_approve_reaches_the_send_api(
    live_server: LiveServer, context: BrowserContext
) -> None:
    emails, (first, second) = await _desk(live_server, drafts=2)
    page = await context.new_page()
    await page.goto(f"{live_server.url}/queue")
    await expect(page).to_have_url(re.compile(r"/login\?next=/queue$"))
    await live_server.sign_in(page, emails[0])
    await expect(page.get_by_role("heading", name="Queue")).to_be_visible()
    await expect(page.locator("#queue-count")).to_have_text("2 waiting")
    card = _card(page, first.draft_id)
    await expect(card.get_by_label("Reply to send")).to_have_value(first.text)
    await expect(card).to_contain_text("LENA15")
    await expect(card).to_contain_text("confidence 0.42")
    await page.screenshot(path=str(screenshots_dir() / "queue.png"), full_page=True)

    await card.get_by_role("button", name="Approve").click()
    await expect(card).to_contain_text("Approved.")
    assert await _sent_to(live_server, first.follower_id) == [first.text]
    await expect(page.locator("#queue-count")).to_have_text("1 waiting")
    await expect(_card(page, second.draft_id)).to_have_attribute("data-state", "pending")


async def test_edit_then_approve_sends_the_edited_text(
    live_server: LiveServer, context: BrowserContext
) -> None:
    emails, (seeded,) = await _desk(live_server)
    page = await _signed_in(live_server, context, emails[0])
    card = _card(page, seeded.draft_id)
    await card.get_by_label("Reply to send").fill("Hi Mia! LENA15 works until December.")
    await card.get_by_role("button", name="Approve edited").click()
    await expect(card).to_contain_text("Approved with your edit.")
    assert await _sent_to(live_server, seeded.follower_id) == [
        "Hi Mia! LENA15 works until December."
    ]


async def test_reject_with_a_reason(live_server: LiveServer, context: BrowserContext) -> None:
    emails, (seeded,) = await _desk(live_server)
    page = await _signed_in(live_server, context, emails[0])
    card = _card(page, seeded.draft_id)
    await card.get_by_role("button", name="Reject…").click()
    await card.get_by_label("Reason for rejecting").fill("wrong product")
    await card.get_by_role("button", name="Reject draft").click()
    await expect(card).to_contain_text("Rejected.")
    await expect(card).to_contain_text("wrong product")
    assert await _status(live_server, seeded.draft_id) == "rejected"
    assert await _outbound_for(live_server, seeded.draft_id) == 0


async def test_keyboard_shortcuts_move_edit_and_approve(
    live_server: LiveServer, context: BrowserContext
) -> None:
    emails, (first, second, third) = await _desk(live_server, drafts=3)
    page = await _signed_in(live_server, context, emails[0])
    await expect(_card(page, first.draft_id)).to_have_class(re.compile(r"\bfocused\b"))
    await page.keyboard.press("?")
    await expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    await page.keyboard.press("Escape")
    await page.keyboard.press("j")
    await expect(_card(page, second.draft_id)).to_have_class(re.compile(r"\bfocused\b"))
    # Typing in the reply box is not a shortcut: "a" and "j" land in the text.
    await page.keyboard.press("e")
    textarea = _card(page, second.draft_id).get_by_label("Reply to send")
    await expect(textarea).to_be_focused()
    await page.keyboard.type(" ja")
    await expect(textarea).to_have_value(second.text + " ja")
    await page.keyboard.press("Escape")
    await page.keyboard.press("k")
    await expect(_card(page, first.draft_id)).to_have_class(re.compile(r"\bfocused\b"))
    await page.keyboard.press("a")
    await expect(_card(page, first.draft_id)).to_contain_text("Approved.")
    assert await _sent_to(live_server, first.follower_id) == [first.text]
    # Focus moved on to the next draft, whose half-edited text is still there.
    await expect(_card(page, second.draft_id)).to_have_class(re.compile(r"\bfocused\b"))
    await page.keyboard.press("e")
    await page.keyboard.press("Control+Enter")
    await expect(_card(page, second.draft_id)).to_contain_text("Approved with your edit.")
    assert await _sent_to(live_server, second.follower_id) == [second.text + " ja"]
    await expect(_card(page, third.draft_id)).to_have_class(re.compile(r"\bfocused\b"))
    await page.keyboard.press("r")
    await expect(_card(page, third.draft_id).get_by_label("Reason for rejecting")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(_card(page, third.draft_id)).to_contain_text("Rejected.")
    await page.keyboard.press("o")
    await expect(page).to_have_url(f"{live_server.url}/conversations/{third.conversation_id}")


async def test_an_expired_session_is_said_and_offers_to_sign_in(
    live_server: LiveServer, context: BrowserContext
) -> None:
    emails, (seeded,) = await _desk(live_server)
    page = await _signed_in(live_server, context, emails[0])
    await context.clear_cookies()
    # The poll finds the session gone: the page says so instead of leaving silently.
    banner = page.locator("#session-expired")
    await expect(banner).to_contain_text("Your session has expired", timeout=10_000)
    await expect(page).to_have_url(f"{live_server.url}/queue")
    await banner.get_by_role("link", name="Sign in again").click()
    await expect(page).to_have_url(
        re.compile(rf"/login\?next=%2Fqueue%23draft-{seeded.draft_id}$"), timeout=10_000
    )


async def test_new_drafts_appear_without_reloading(
    live_server: LiveServer, context: BrowserContext
) -> None:
    emails, (first,) = await _desk(live_server)
    page = await _signed_in(live_server, context, emails[0])
    textarea = _card(page, first.draft_id).get_by_label("Reply to send")
    await textarea.fill("half-edited text")
    async with live_server.session() as session:
        account = await session.get(Account, first.account_id)
        assert account is not None
        later = await seed_draft(session, account, follower="Late Larry")
    await expect(_card(page, later.draft_id)).to_contain_text("Late Larry", timeout=10_000)
    await expect(textarea).to_have_value("half-edited text")
    await expect(page.locator("#queue-count")).to_have_text("2 waiting")


async def test_a_moderator_is_denied_another_accounts_draft(
    live_server: LiveServer, context: BrowserContext
) -> None:
    emails, (mine,) = await _desk(live_server)
    _others, (theirs,) = await _desk(live_server, follower="Secret Sam")
    page = await _signed_in(live_server, context, emails[0])
    await expect(_card(page, mine.draft_id)).to_be_visible()
    await expect(page.get_by_text("Secret Sam")).to_have_count(0)
    answer = await page.evaluate(
        """async (id) => {
            const token = JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRF-Token"];
            const r = await fetch(`/queue/${id}/approve`, {method: "POST",
                headers: {"X-CSRF-Token": token, "HX-Request": "true"}});
            return r.status;
        }""",
        theirs.draft_id,
    )
    assert answer == 404
    response = await page.goto(f"{live_server.url}/conversations/{theirs.conversation_id}")
    assert response is not None
    assert response.status == 404
    await expect(page.get_by_text("Secret Sam")).to_have_count(0)
    assert await _status(live_server, theirs.draft_id) == "pending"
    assert await _outbound_for(live_server, theirs.draft_id) == 0


async def test_a_wrong_csrf_token_is_rejected(
    live_server: LiveServer, context: BrowserContext
) -> None:
    emails, (seeded,) = await _desk(live_server)
    page = await _signed_in(live_server, context, emails[0])
    status = await page.evaluate(
        """async (id) => {
            const body = new URLSearchParams({text: "sneaky", csrf_token: "forged"});
            const r = await fetch(`/queue/${id}/approve`, {method: "POST", body});
            return r.status;
        }""",
        seeded.draft_id,
    )
    assert status == 403
    # The page's own token replaced by a wrong one: the click is refused and says so.
    await page.evaluate(
        """() => document.body.setAttribute("hx-headers", '{"X-CSRF-Token": "forged"}')"""
    )
    card = _card(page, seeded.draft_id)
    await card.get_by_role("button", name="Approve").click()
    await expect(card.get_by_role("alert")).to_contain_text("security token was refused")
    assert await _status(live_server, seeded.draft_id) == "pending"
    assert await _outbound_for(live_server, seeded.draft_id) == 0


async def test_approve_on_a_phone_sized_screen(live_server: LiveServer, browser: Browser) -> None:
    emails, (seeded,) = await _desk(live_server)
    context = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        page = await _signed_in(live_server, context, emails[0])
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], "nothing scrolls sideways on a phone"
        await page.screenshot(path=str(screenshots_dir() / "queue-phone.png"), full_page=True)
        card = _card(page, seeded.draft_id)
        await card.get_by_role("button", name="Approve").tap()
        await expect(card).to_contain_text("Approved.")
        assert await _sent_to(live_server, seeded.follower_id) == [seeded.text]
        await card.get_by_role("link", name="Open conversation").tap()
        await expect(page.get_by_text(seeded.text)).to_be_visible()
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        await page.screenshot(
            path=str(screenshots_dir() / "conversation-phone.png"), full_page=True
        )
    finally:
        await context.close()


async def test_a_conversation_shows_the_thread_and_takes_a_reply_by_hand(
    live_server: LiveServer, context: BrowserContext
) -> None:
    emails, (seeded,) = await _desk(
        live_server,
        follower_text="<script>window.owned = 1</script> and the code?",
        extra_messages=[
            {
                "mid": "m_story_b",
                "text": "obsessed with this",
                "payload": {"reply_to_story_url": "https://cdn.example/story.mp4"},
            },
            {"mid": "m_gone_b", "kind": "deleted", "text": None},
        ],
    )
    page = await _signed_in(live_server, context, emails[0])
    await _card(page, seeded.draft_id).get_by_role("link", name="Open conversation").click()
    await expect(page.get_by_role("heading", name="Mia Follower")).to_be_visible()
    thread = page.get_by_role("list", name="Messages with Mia Follower")
    await expect(thread).to_contain_text("<script>window.owned = 1</script> and the code?")
    assert await page.evaluate("window.owned") is None
    await expect(thread).to_contain_text("Replied to a story")
    await expect(thread).to_contain_text("Unsent by the follower")
    await page.get_by_role("button", name="Pause automation").click()
    await expect(page.locator("#automation")).to_contain_text("Automation paused")
    await page.get_by_label("Write a reply").fill("Answered by a person")
    await page.get_by_role("button", name="Send reply").click()
    await expect(page.get_by_role("status").filter(has_text="queued")).to_be_visible()
    assert await _sent_to(live_server, seeded.follower_id) == ["Answered by a person"]
    await page.reload()
    await expect(thread).to_contain_text("Answered by a person")
    await expect(thread).to_contain_text(f"Written by {emails[0]}")
    await page.screenshot(path=str(screenshots_dir() / "conversation.png"), full_page=True)
    await page.get_by_role("link", name="Conversations", exact=True).first.click()
    await page.get_by_label("Follower name").fill("mia")
    await page.get_by_role("button", name="Search").click()
    await expect(page.get_by_role("link", name=re.compile("Mia Follower"))).to_have_count(1)


@pytest.mark.postgres_only
async def test_two_moderators_race_for_one_draft_on_postgresql(
    pg_live_server: LiveServer, browser: Browser
) -> None:
    emails, (seeded,) = await _desk(pg_live_server, moderators=2)
    contexts = [await browser.new_context() for _ in emails]
    try:
        pages = [
            await _signed_in(pg_live_server, c, e) for c, e in zip(contexts, emails, strict=True)
        ]
        for n, page in enumerate(pages):
            await _card(page, seeded.draft_id).get_by_label("Reply to send").fill(f"from {n}")
        await asyncio.gather(
            *(_card(p, seeded.draft_id).get_by_role("button", name="Approve edited").click()
              for p in pages)
        )  # fmt: skip
        cards = [_card(p, seeded.draft_id) for p in pages]
        for card in cards:
            await expect(card).to_have_attribute("data-state", "done")
        texts = [await card.inner_text() for card in cards]
        losers = [t for t in texts if "Already handled by" in t]
        assert len(losers) == 1, texts
        winner = 1 if "Already handled by" in texts[0] else 0
        assert f"Already handled by {emails[winner]}" in losers[0]
        assert await _sent_to(pg_live_server, seeded.follower_id) == [f"from {winner}"]
        await asyncio.sleep(0.5)  # a second send, were there one, would have arrived by now
        assert len(pg_live_server.sends_to(seeded.follower_id)) == 1
        assert await _outbound_for(pg_live_server, seeded.draft_id) == 1
    finally:
        for context in contexts:
            await context.close()
